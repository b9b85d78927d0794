// Single-frame (passive) presentation-attack cues: Human's antispoof and liveness nets, plus image
// evidence of a re-capture: periodic patterns (moire / screen pixel grid) as spectral peaks, a
// straight-edged enclosure (screen bezel or photo border) around the face, veiling glare
// (specular flatness), colour clipping, and the person's outline cut by a straight edge (a
// picture's border crossing the head: MediaPipe's selfie segmentation gives the outline). Each cue maps to [0,1] with
// 0.5 at its threshold; the passive attack score is the largest of them (any one strong cue is enough), so a bona fide
// image is flagged only if one cue fires (BPCER <= sum of the per-cue rates; thresholds in
// docs/liveness.md).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "face/detector.h"
#include "face/mesh.h"
#include "nn/model.h"

namespace idm::liveness {

struct PassiveCues {
  float antispoof_real = 0;  // Human antispoof.json "real" probability (1 = real)
  float liveness_live = 0;   // Human liveness.json "live" probability (1 = live)
  float moire_db = 0;        // strongest isolated spectral peak above the radial baseline (dB)
  float enclosure = 0;       // sides (0..4) of a straight-edged frame found around the face
  float glare = 0;           // fraction of the face that is flat, bright and colourless
  float clipping = 0;        // fraction of face pixels with a channel at 0 or 255
  // Longest straight stretch of the person's outline beside or above the face that lies on an
  // image edge continuing into the background: min(stretch, continuation) / face size.
  float silhouette_cut = 0;
};

// Calibrated on every 20th LFW View-2 image (386 bona fide web photos, docs/liveness.md): each
// cue's threshold sits near that set's 99th percentile, so the passive BPCER stays under 5%.
struct PassiveThresholds {
  // Each cue's value at which its score is 0.5, and the value at which it saturates (score 1).
  float antispoof_real = 0.30f;  // the nets give probabilities of "genuine": score 0.5 below these
  float liveness_live = 0.25f;
  float moire_db = 23.0f, moire_db_full = 30.0f;
  float enclosure_sides = 3.0f;
  float glare = 0.25f, glare_full = 0.5f;
  float clipping = 0.30f, clipping_full = 0.6f;
  // Set on LFW images disjoint from the held-out BPCER set (every 4th, offset 3): 0.6 is their
  // 99.4th percentile (docs/liveness.md).
  float silhouette_cut = 0.6f, silhouette_cut_full = 1.0f;
  float attack = 0.5f;  // the passive attack score at or above which a frame is an attack
};

struct PassiveResult {
  PassiveCues cues;
  float antispoof_score = 0, liveness_score = 0, moire_score = 0, enclosure_score = 0, glare_score = 0,
        clipping_score = 0, silhouette_cut_score = 0;
  float attack_score = 0;            // max of the cue scores, in [0,1]
  bool attack = false;               // attack_score >= thresholds.attack
  std::vector<std::string> reasons;  // the cues at or above 0.5
};

class PassiveChecker {
 public:
  explicit PassiveChecker(int threads = 1, const PassiveThresholds& t = {});
  // `mesh` locates the face in the 8-bit RGB frame (mesh.crop is the square crop the nets see).
  PassiveResult Check(const cv::Mat& rgb, const face::FaceMesh& mesh) const;
  PassiveCues Measure(const cv::Mat& rgb, const face::FaceMesh& mesh) const;
  PassiveResult Score(const PassiveCues& cues) const;
  const PassiveThresholds& thresholds() const { return t_; }
  const nn::Model& antispoof_model() const { return *antispoof_; }
  const nn::Model& liveness_model() const { return *liveness_; }
  const nn::Model& selfie_model() const { return *selfie_; }
  // MediaPipe selfie segmentation of the whole frame: 256x256 CV_32F person probabilities.
  cv::Mat PersonProbability(const cv::Mat& rgb) const;

 private:
  PassiveThresholds t_;
  std::unique_ptr<nn::Model> antispoof_, liveness_, selfie_;
};

// The image cues alone (exposed for tests).
float MoirePeakDb(const cv::Mat& grey_face);
int EnclosureSides(const cv::Mat& rgb, const cv::Rect2f& face_box);
void GlareAndClipping(const cv::Mat& rgb_face, float* glare, float* clipping);
// `person`: person probabilities over the whole frame (any size, CV_32F); see PassiveCues.
float SilhouetteCut(const cv::Mat& rgb, const cv::Mat& person, const cv::Rect2f& face_box);

}  // namespace idm::liveness
