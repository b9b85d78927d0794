// The two image resamplers the TF.js models were trained and converted with, reproduced exactly:
// OpenCV's INTER_LINEAR uses half-pixel centres and would shift every input by half a pixel.
#pragma once

#include <opencv2/core.hpp>

#include "core/secure_memory.h"

namespace idm::face {

// A float32 NHWC image (batch 1), the form every network input takes.
struct FloatImage {
  int height = 0, width = 0, channels = 3;
  SecureVector<float> data;
  float* at(int y, int x) { return data.data() + (static_cast<size_t>(y) * width + x) * channels; }
  const float* at(int y, int x) const { return data.data() + (static_cast<size_t>(y) * width + x) * channels; }
};

// An 8-bit RGB cv::Mat as float 0..255.
FloatImage ToFloat(const cv::Mat& rgb);

// tf.image.resizeBilinear with alignCorners=false, halfPixelCenters=false (TF1 legacy mode).
FloatImage ResizeBilinearTf(const FloatImage& src, int out_h, int out_w);

// tf.image.cropAndResize (bilinear, extrapolation value 0) of one box given as normalised
// [y1, x1, y2, x2] (fractions of H-1 and W-1 after TF's convention).
FloatImage CropAndResizeTf(const FloatImage& src, float y1, float x1, float y2, float x2, int out_h, int out_w);

// In place, per channel c: (x - pre_sub[c]) / div - post_sub, in that order (as TF.js rounds).
void Normalize(FloatImage& img, const float pre_sub[3], float div, float post_sub);

}  // namespace idm::face
