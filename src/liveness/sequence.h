// Sequence verdict: were the challenge's actions done, in order, in time, by one live person?
//
// Every geometric test is made on the 468-point mesh of each frame (FrameObservation). The key
// 3-D cue: a flat picture moved in front of the camera (shifted, tilted, brought closer) changes
// its landmarks by a plane projective map -- a homography -- while a real head turning, looking
// up or blinking does not. So each detected action is also checked for non-planar motion
// (landmark residual after the best homography, in units of the eye distance); a blink is
// measured on the iris model's eyelids after the face's own homography has been undone (both
// upper lids must come down over still lower lids, in a face that holds still); and "come
// closer" needs, besides perspective parallax in the landmarks, the head's surroundings not to
// come closer with the face (a picture's do: MeasureSurround, on grey thumbnails of the frames).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "face/analyzer.h"
#include "face/embedder.h"
#include "liveness/challenge.h"
#include "liveness/frame_analyzer.h"
#include "liveness/passive.h"

namespace idm::liveness {

enum class Verdict { kLive, kAttack, kInconclusive };
const char* VerdictName(Verdict v);  // "live", "attack", "inconclusive"

struct SequenceThresholds {
  float turn_deg = 18;             // yaw change for a turn
  float look_up_deg = 12;          // pitch change for looking up
  float closer_ratio = 1.30f;      // eye-distance growth for "come closer"
  // Blink: the eyelids from the iris model, with the face's own homography undone.
  float blink_drop = 0.50f;        // lid opening of both eyes below this fraction of its open level
  float blink_recover = 0.80f;     // ... and both back above this fraction
  float blink_upper_lid = 0.50f;   // the upper lid of each eye came down by at least this fraction of the open gap
  float blink_lower_lid = 0.40f;   // ... while its lower lid moved by at most this fraction (a squashed eye closes from both sides)
  float blink_max_face_residual = 0.025f;  // non-eye mesh residual (eye distances) between the open and the closed frame
  float blink_max_foreshortening = 0.08f;  // ... and foreshortening of the face (1 - cos of a tilt) between them
  int64_t blink_max_ms = 1000;     // a closure longer than this is not a blink
  float min_nonplanar = 0.045f;    // homography residual (eye distances) a turn / look-up must reach
  float min_closer_depth = 0.030f; // relative change of inner/outer face proportions for "come closer" (median over the approach) ...
  float min_closer_parallax = 0.02f;  // ... or perspective parallax kappa (DepthParallax), median over the close frames
  float closer_max_follow = 0.35f; // "come closer": share of the textured surround (beyond the head) that moved with the face
  int closer_min_textured = 40;    // ... measured on at least this many textured thumbnail pixels
  float same_person_cos = 0.88f;   // embeddings of sampled near-frontal frames vs their medoid
  float max_face_change = 0.60f;   // aligned face chip change between frames (z-scored grey, mean |diff|) ...
  float face_change_spike = 3.5f;  // ... that is also this many times the sequence's median: a cut
  float max_jump = 0.6f;           // landmark jump between consecutive frames (eye distances per 1/15 s)
  float max_frame_change = 40;     // thumbnail change (0..255) that marks a cut, with a landmark jump
  int64_t max_gap_ms = 400;        // longest time without a tracked face inside the sequence
  float min_face_fraction = 0.9f;  // frames with a tracked face
  int64_t min_action_ms = 120;     // an action completed faster than this is not human
  float attack = 0.5f;             // combined attack score threshold
};

struct ActionResult {
  Action action = Action::kBlink;
  bool detected = false;           // the movement was seen, in order
  bool non_planar = false;         // and it was a 3-D movement (not a flat picture moved)
  int begin_frame = -1, peak_frame = -1, end_frame = -1;
  int64_t begin_ms = 0, end_ms = 0;
  float amount = 0;                // degrees, ratio or eye-ratio drop, by action
  float nonplanar = 0;             // the 3-D evidence measured for it
  std::string detail;
};

struct SequenceResult {
  Verdict verdict = Verdict::kInconclusive;
  std::vector<std::string> reasons;
  std::vector<ActionResult> actions;
  std::vector<int> best_frames;      // frame indices to match against the document, best first
  float attack_score = 0;            // combined presentation-attack score in [0,1]
  float passive_score = 0;           // mean passive attack score over the checked frames
  float planar_score = 0;            // 3-D cue: 1 when every detected movement was planar
  float identity_min_cos = 1;        // lowest cosine of a sampled frame to the medoid
  bool identity_checked = false;
  bool track_continuous = true;
  int frames = 0, face_frames = 0;
  double analysis_ms = 0;            // time spent in the verifier after per-frame analysis
};

// Inputs to the verdict besides the per-frame observations. Embeddings and passive results are
// optional (empty vectors skip those checks -- then the verdict cannot be "live").
struct SequenceEvidence {
  std::vector<FrameObservation> frames;
  std::vector<int> embedded_frames;             // which frames `embeddings` belong to
  std::vector<face::Embedding> embeddings;
  std::vector<int> passive_frames;
  std::vector<PassiveResult> passive;
  std::vector<cv::Mat> grey;                    // optional: every frame, 8-bit grey, scaled by grey_scale (image cues)
  float grey_scale = 0;
};

// How the surroundings of the head moved while the face came closer: a real head grows in front
// of a background that stays (or, when the camera moves, scales far less); a picture's own
// surroundings (its background, border, bezel) grow with the face. Over the textured pixels of a
// ring beyond the head (1.8-3.2 face half-sizes, at and above the face), `follow` is the share
// better explained by the face's homography than by standing still.
struct SurroundMotion {
  int textured = 0;
  float follow = 0;
};
SurroundMotion MeasureSurround(const cv::Mat& grey_ref, const cv::Mat& grey_cur, const face::FaceMesh& ref, const face::FaceMesh& cur,
                               float scale);

// Detection of each action (exposed for tests): finds the action starting at or after frame
// `from`; returns detected=false if not found.
ActionResult DetectAction(const std::vector<FrameObservation>& f, Action a, int from, const SequenceThresholds& t);
// Homography residual of `b`'s landmarks against `a`'s (RMS, in eye distances of `a`).
float PlanarResidual(const face::FaceMesh& a, const face::FaceMesh& b);
// Perspective parallax between two meshes of an approaching face: the coefficient kappa of the
// depth-shaped displacement (near points magnified more) left after the best homography; > 0
// for a real approach, ~0 for a flat picture. `explained`: share of the residual it explains.
float DepthParallax(const face::FaceMesh& ref, const face::FaceMesh& cur, float* explained);
// Frames ranked for matching: sharp, frontal, eyes open.
std::vector<int> RankBestFrames(const std::vector<FrameObservation>& f, int n);

SequenceResult VerifySequence(const Challenge& challenge, const SequenceEvidence& evidence,
                              const SequenceThresholds& t = {});

// The whole path over decoded frames: tracks, picks frames to embed and to check passively,
// and decides. Models are loaded once per instance; not thread-safe (one per thread).
class LivenessVerifier {
 public:
  struct Options {
    int threads = 1;
    int embed_frames = 4;    // sampled across the sequence (plus the best frame)
    int passive_frames = 3;  // the best frames
    SequenceThresholds thresholds;
    PassiveThresholds passive;
  };
  LivenessVerifier();
  // `share`: a face analyser (e.g. the worker's) whose detector, mesh and -- when its embedder is
  // one of the ResNet-128 ones -- ResNet runtimes the verifier runs on instead of loading its own
  // copies. It
  // must outlive the verifier and not be used concurrently with it (calls would wait).
  explicit LivenessVerifier(const Options& options, const face::FaceAnalyzer* share = nullptr);
  // `t_ms[i]` is frame i's capture time.
  SequenceResult Verify(const Challenge& challenge, const std::vector<cv::Mat>& rgb_frames,
                        const std::vector<int64_t>& t_ms, SequenceEvidence* evidence_out = nullptr);
  FrameAnalyzer& frame_analyzer() { return frames_; }
  const PassiveChecker& passive() const { return passive_; }
  const face::Embedder& embedder() const { return *embedder_; }
  // Every model the verdict depends on (for receipts: which versions decided).
  std::vector<const nn::Model*> models() const;

 private:
  Options options_;
  FrameAnalyzer frames_;
  PassiveChecker passive_;
  std::unique_ptr<face::Embedder> embedder_;
};

}  // namespace idm::liveness
