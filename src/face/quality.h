// Capture quality of one face: what a person in front of the camera can fix.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "face/mesh.h"

namespace idm::face {

struct FaceQuality {
  float face_size_px = 0;    // side of the detector box
  float eye_distance_px = 0; // between the eye centres
  float sharpness = 0;       // variance of the Laplacian on a 112 px grey face chip
  float brightness = 0;      // mean luma of the face, 0..255
  float clipped = 0;         // fraction of face pixels at <= 5 or >= 250
  float yaw_deg = 0, pitch_deg = 0, roll_deg = 0;
  float left_eye_open = 0, right_eye_open = 0;  // eye aspect ratio (height / width)
  std::vector<std::string> flags;               // e.g. "face_too_small", "blurry", "eyes_closed"
};

struct QualityThresholds {
  float min_eye_distance_px = 24;  // below this the embedder sees mostly interpolation
  float min_sharpness = 40;
  float min_brightness = 50, max_brightness = 215;
  float max_clipped = 0.15f;
  float max_yaw_deg = 30, max_pitch_deg = 25, max_roll_deg = 30;
  float min_eye_open = 0.12f;
};

// Head pose from the 3-D mesh: roll from the eye line, yaw and pitch from the face plane normal.
void HeadPose(const FaceMesh& mesh, float* yaw_deg, float* pitch_deg, float* roll_deg);
// Eye aspect ratios (subject's left and right) from the mesh eyelid and corner points.
void EyeOpenness(const FaceMesh& mesh, float* left, float* right);

FaceQuality MeasureQuality(const cv::Mat& rgb, const cv::Rect2f& face_box, const FaceMesh& mesh,
                           const QualityThresholds& t = {});

}  // namespace idm::face
