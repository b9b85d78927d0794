// Per-frame analysis for liveness: face box, 468-point mesh, head pose, eye openness, face scale.
// The landmark path tracks: after the first detection, each frame's mesh crop is taken from the
// previous frame's mesh (as MediaPipe does), and BlazeFace runs again only when the track is lost
// or every `redetect_every` frames (to count faces).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include <opencv2/core.hpp>

#include "face/detector.h"
#include "face/mesh.h"
#include "nn/model.h"

namespace idm::liveness {

struct FrameObservation {
  int64_t t_ms = 0;
  bool face = false;          // a face was tracked in this frame
  bool detector_ran = false;  // BlazeFace ran on this frame (faces_found is valid)
  bool redetected = false;    // the track was lost and re-acquired by the detector
  int faces_found = 0;        // faces the detector reported (when it ran)
  cv::Rect2f box;             // face box (frame pixels; from the mesh when tracking)
  face::FaceMesh mesh;
  float yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
  float ear_left = 0, ear_right = 0;  // eye aspect ratios
  float eye_distance_px = 0;          // between eye centres
  float face_height_px = 0;           // forehead (10) to chin (152)
  float sharpness = 0;                // Laplacian variance of the grey face crop (64 px)
  float frame_change = 0;             // mean |difference| of a 32x24 grey thumbnail to the previous frame (0..255)
  float face_change = 0;              // mean |difference| of the aligned, normalised 32 px face chip to the
                                      // previous frame's (a cut to another face spikes it)
  // Eyelids from Human's iris model (a 64 px crop per eye, far finer than the mesh's eye points):
  // per eye, the lid contour in frame pixels, 0..8 the lower lid from corner to corner, 9..15
  // the upper lid above points 1..7.
  bool lids = false;
  std::array<cv::Point2f, 16> lid_left{}, lid_right{};  // subject's left (image right) / right eye
  float lid_open_left = 0, lid_open_right = 0;          // lid opening over corner distance (LidOpening)
};

// Eyelid opening of a 16-point lid contour (FrameObservation::lid_*): the mean gap between the
// upper and lower lid at the 5 middle positions, over the corner-to-corner distance.
float LidOpening(const std::array<cv::Point2f, 16>& lid);

struct FrameAnalyzerOptions {
  int threads = 1;
  int redetect_every = 15;     // frames; 0: only when the track is lost
  float min_mesh_score = 0.5f; // below this the track is lost
  bool iris = true;            // run the iris model for the eyelids
};

class FrameAnalyzer {
 public:
  explicit FrameAnalyzer(const FrameAnalyzerOptions& options = {});
  // Runs on `share`'s detector and mesh runtimes instead of its own (they must outlive this).
  FrameAnalyzer(const FrameAnalyzerOptions& options, const face::FaceDetector& share_detector,
                const face::MeshModel& share_mesh);
  // `rgb`: 8-bit RGB frame. Frames of one sequence must come in order; Reset() between sequences.
  FrameObservation Analyze(const cv::Mat& rgb, int64_t t_ms);
  void Reset();
  const face::FaceDetector& detector() const { return *detector_; }
  const face::MeshModel& mesh_model() const { return *mesh_; }
  const nn::Model* iris_model() const { return iris_.get(); }  // null when options.iris is off

 private:
  std::vector<face::FaceBox> Detect(const face::FloatImage& frame) const;
  void MeasureLids(const cv::Mat& rgb, FrameObservation& o) const;
  void LoadIris();
  FrameAnalyzerOptions options_;
  std::unique_ptr<face::FaceDetector> own_detector_;  // null when shared
  std::unique_ptr<face::MeshModel> own_mesh_;
  const face::FaceDetector* detector_;
  const face::MeshModel* mesh_;
  std::unique_ptr<nn::Model> iris_;
  std::optional<face::FaceMesh> prev_;
  cv::Mat prev_thumb_, prev_chip_;
  int since_detect_ = 0;
};

// Fills pose, eye openness and scale fields of `o` from o.mesh.
void MeasureGeometry(FrameObservation& o);
// Axis-aligned box around the mesh points.
cv::Rect2f MeshBounds(const face::FaceMesh& mesh);

}  // namespace idm::liveness
