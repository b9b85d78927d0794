#include "freetype_text.h"

#include <algorithm>
#include <filesystem>
#include <mutex>

#include <opencv2/imgproc.hpp>
#ifdef IDMATCH_HAVE_FREETYPE
#include <opencv2/freetype.hpp>
#endif

#include "document/cardgen.h"

namespace idm::document {

RestoreDefaultText::~RestoreDefaultText() { SetTextRenderer({}); }

bool InstallFreeTypeText(const std::string& font, const std::string& mono) {
#ifdef IDMATCH_HAVE_FREETYPE
  if (!std::filesystem::exists(font) || !std::filesystem::exists(mono)) return false;
  // FreeType2 objects are not thread-safe: one renderer at a time draws (cards are rendered
  // sequentially here; the lock is for callers that render from several threads).
  static std::mutex mu;
  static cv::Ptr<cv::freetype::FreeType2> ft, ft_mono;
  std::lock_guard<std::mutex> lock(mu);
  ft = cv::freetype::createFreeType2();
  ft->loadFontData(font, 0);
  ft_mono = cv::freetype::createFreeType2();
  ft_mono->loadFontData(mono, 0);
  SetTextRenderer([](cv::Mat& img, const std::string& utf8, const std::string&, const cv::Rect& box,
                     const cv::Scalar& colour, bool monospace) {
    std::lock_guard<std::mutex> draw_lock(mu);
    cv::Ptr<cv::freetype::FreeType2>& f = monospace ? ft_mono : ft;
    if (monospace) {
      const double pitch = static_cast<double>(box.width) / utf8.size();
      const int h = static_cast<int>(std::min(box.height * 0.9, pitch * 1.55));
      for (size_t i = 0; i < utf8.size(); ++i) {
        int base = 0;
        const std::string ch(1, utf8[i]);
        const cv::Size sz = f->getTextSize(ch, h, -1, &base);
        f->putText(img, ch,
                   {box.x + static_cast<int>(i * pitch + (pitch - sz.width) / 2),
                    box.y + box.height - (box.height - sz.height) / 2},
                   h, colour, -1, cv::LINE_AA, true);
      }
      return;
    }
    int base = 0;
    int h = static_cast<int>(box.height * 0.8);
    cv::Size sz = f->getTextSize(utf8, h, -1, &base);
    if (sz.width > box.width) h = std::max(6, h * box.width / sz.width);
    f->putText(img, utf8, {box.x, box.y + static_cast<int>(box.height * 0.85)}, h, colour, -1, cv::LINE_AA, true);
  });
  return true;
#else
  (void)font;
  (void)mono;
  return false;
#endif
}

}  // namespace idm::document
