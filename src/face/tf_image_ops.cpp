#include "face/tf_image_ops.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace idm::face {

FloatImage ToFloat(const cv::Mat& rgb) {
  if (rgb.type() != CV_8UC3) throw Error(ErrorCode::kInvalidArgument, "expected an 8-bit RGB image");
  FloatImage out;
  out.height = rgb.rows;
  out.width = rgb.cols;
  out.data.resize(static_cast<size_t>(rgb.rows) * rgb.cols * 3);
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    float* dst = out.at(y, 0);
    for (int i = 0; i < rgb.cols * 3; ++i) dst[i] = row[i];
  }
  return out;
}

FloatImage ResizeBilinearTf(const FloatImage& src, int out_h, int out_w) {
  FloatImage out;
  out.height = out_h;
  out.width = out_w;
  out.channels = src.channels;
  out.data.resize(static_cast<size_t>(out_h) * out_w * src.channels);
  const float sy = static_cast<float>(src.height) / out_h;
  const float sx = static_cast<float>(src.width) / out_w;
  const int c = src.channels;
  for (int r = 0; r < out_h; ++r) {
    const float fy_src = r * sy;
    const int y0 = static_cast<int>(std::floor(fy_src));
    const int y1 = std::min(src.height - 1, static_cast<int>(std::ceil(fy_src)));
    const float fy = fy_src - y0;
    for (int q = 0; q < out_w; ++q) {
      const float fx_src = q * sx;
      const int x0 = static_cast<int>(std::floor(fx_src));
      const int x1 = std::min(src.width - 1, static_cast<int>(std::ceil(fx_src)));
      const float fx = fx_src - x0;
      const float *tl = src.at(y0, x0), *tr = src.at(y0, x1), *bl = src.at(y1, x0), *br = src.at(y1, x1);
      float* o = out.at(r, q);
      for (int k = 0; k < c; ++k) {
        const float top = tl[k] + (tr[k] - tl[k]) * fx;
        const float bottom = bl[k] + (br[k] - bl[k]) * fx;
        o[k] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}

FloatImage CropAndResizeTf(const FloatImage& src, float y1, float x1, float y2, float x2, int out_h, int out_w) {
  FloatImage out;
  out.height = out_h;
  out.width = out_w;
  out.channels = src.channels;
  out.data.assign(static_cast<size_t>(out_h) * out_w * src.channels, 0.f);
  const int c = src.channels;
  const float hs = static_cast<float>(src.height - 1), ws = static_cast<float>(src.width - 1);
  const float height_scale = out_h > 1 ? (y2 - y1) * hs / (out_h - 1) : 0.f;
  const float width_scale = out_w > 1 ? (x2 - x1) * ws / (out_w - 1) : 0.f;
  for (int y = 0; y < out_h; ++y) {
    const float in_y = out_h > 1 ? y1 * hs + y * height_scale : 0.5f * (y1 + y2) * hs;
    if (in_y < 0 || in_y > hs) continue;  // extrapolation value 0
    const int top = static_cast<int>(std::floor(in_y));
    const int bottom = static_cast<int>(std::ceil(in_y));
    const float yl = in_y - top;
    for (int x = 0; x < out_w; ++x) {
      const float in_x = out_w > 1 ? x1 * ws + x * width_scale : 0.5f * (x1 + x2) * ws;
      if (in_x < 0 || in_x > ws) continue;
      const int left = static_cast<int>(std::floor(in_x));
      const int right = static_cast<int>(std::ceil(in_x));
      const float xl = in_x - left;
      const float *tl = src.at(top, left), *tr = src.at(top, right), *bl = src.at(bottom, left), *br = src.at(bottom, right);
      float* o = out.at(y, x);
      for (int k = 0; k < c; ++k) {
        const float t = tl[k] + (tr[k] - tl[k]) * xl;
        const float b = bl[k] + (br[k] - bl[k]) * xl;
        o[k] = t + (b - t) * yl;
      }
    }
  }
  return out;
}

void Normalize(FloatImage& img, const float pre_sub[3], float div, float post_sub) {
  const size_t n = img.data.size();
  for (size_t i = 0; i < n; ++i) img.data[i] = (img.data[i] - pre_sub[i % img.channels]) / div - post_sub;
}

}  // namespace idm::face
