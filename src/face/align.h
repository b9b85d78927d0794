// Alignment: landmarks -> a similarity transform -> the canonical crop each embedder was trained on.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "face/mesh.h"

namespace idm::face {

using Landmarks68 = std::array<cv::Point2f, 68>;  // iBUG 300-W order, frame pixels

// Least-squares similarity (rotation, uniform scale, translation) taking `from` onto `to`
// (Umeyama 1991). Returns the 2x3 matrix; needs >= 2 distinct points.
cv::Matx23d EstimateSimilarity(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to);

// The iBUG-68 points dlib's alignment uses, read off the MediaPipe mesh (nose, eyes, mouth).
// Jaw and brows are left at (0,0): alignment does not use them.
Landmarks68 MeshToLandmarks68(const FaceMesh& mesh);

// dlib's face chip (get_face_chip_details + extract_image_chip): the similarity that puts the
// nose, eye and mouth landmarks on dlib's mean face, `size` px square with `padding` around the
// landmark box. The 128-D ResNet expects size 150, padding 0.25.
cv::Matx23d DlibChipTransform(const Landmarks68& landmarks, int size = 150, double padding = 0.25);

// Warps an 8-bit RGB frame with a 2x3 transform into a size x size chip (bilinear; frame pixels
// outside the image are black). Pre-smooths when shrinking by more than 2x to avoid aliasing.
cv::Mat WarpChip(const cv::Mat& rgb, const cv::Matx23d& frame_to_chip, int size);

}  // namespace idm::face
