// Real sessions for the service tests, built in memory only: the blink clip of the shared data
// re-encoded as JPEG frames with capture times, and a generated card printed with its person.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "document/cardgen.h"
#include "document/layout.h"
#include "server_harness.h"
#include "test_util.h"

namespace idm::test {

inline const char* kClip = "/data/videos/blink_detector/videos/test.mp4";

struct EncodedClip {
  std::vector<std::string> jpegs;
  std::vector<int64_t> t_ms;
};

// At most `max_frames` frames, evenly spaced, as JPEG bytes with their capture times.
inline EncodedClip EncodeClip(const std::string& path, size_t max_frames) {
  cv::VideoCapture cap(path);
  const double fps = cap.get(cv::CAP_PROP_FPS) > 0 ? cap.get(cv::CAP_PROP_FPS) : 25;
  std::vector<cv::Mat> all;
  cv::Mat bgr;
  while (cap.read(bgr)) all.push_back(bgr.clone());
  EncodedClip c;
  const size_t step = std::max<size_t>(1, (all.size() + max_frames - 1) / max_frames);
  for (size_t i = 0; i < all.size(); i += step) {
    std::vector<uchar> buf;
    cv::imencode(".jpg", all[i], buf, {cv::IMWRITE_JPEG_QUALITY, 90});
    c.jpegs.emplace_back(buf.begin(), buf.end());
    c.t_ms.push_back(1'700'000'000'000 + static_cast<int64_t>(1000.0 * static_cast<double>(i) / fps));
  }
  return c;
}

inline const EncodedClip& Clip() {
  static const EncodedClip c = EncodeClip(test::SharedDir() + kClip, 120);
  return c;
}

// A resident registration card (generator specimen) printed with the clip's person, photographed
// (halftone, glare, a little perspective, noise, JPEG), as JPEG bytes.
inline std::string CardOfTheClipPerson() {
  const std::string& mid = Clip().jpegs[Clip().jpegs.size() / 2];
  cv::Mat bgr =
      cv::imdecode(cv::Mat(1, static_cast<int>(mid.size()), CV_8U, const_cast<char*>(mid.data())), cv::IMREAD_COLOR);
  // The generator cuts the portrait from the photo's centre, where the clip's face is.
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const auto layouts = document::LoadLayouts();
  const document::DocumentLayout* layout = document::FindLayout(layouts, "kr_resident_registration");
  const document::GeneratedCard card = document::RenderCard(*layout, rgb, 5);
  document::CaptureOptions opt;
  opt.clutter = false;
  opt.max_tilt_deg = 10;
  const document::CapturedCard photo = document::SimulateCapture(card.rgb, 9, opt);
  cv::Mat out;
  cv::cvtColor(photo.rgb, out, cv::COLOR_RGB2BGR);
  std::vector<uchar> buf;
  cv::imencode(".jpg", out, buf, {cv::IMWRITE_JPEG_QUALITY, 92});
  return std::string(buf.begin(), buf.end());
}

// One whole session on `server`: open it, send the card of the clip's person, the clip in batches
// of 30 frames, then ask for the decision (its JSON, plus the session's challenge). A step that
// gets no answer or an error ends it with {"failed_step", "status"}.
inline nlohmann::json RunSession(const ServerProcess& server, const std::string& key, const EncodedClip& clip) {
  auto cli = server.Client();
  const httplib::Headers auth = {{"Authorization", "Bearer " + key}};
  auto failed = [](const char* step, const httplib::Result& r) {
    return nlohmann::json{{"failed_step", step}, {"status", r ? r->status : -1}, {"body", r ? r->body : ""}};
  };
  auto s = cli->Post("/v1/sessions", auth, "", "application/json");
  if (!s || s->status != 201) return failed("session", s);
  const nlohmann::json session = nlohmann::json::parse(s->body);
  const std::string id = session["session_id"];
  static const std::string card = CardOfTheClipPerson();
  auto d = cli->Post(("/v1/sessions/" + id + "/document").c_str(), auth, card, "image/jpeg");
  if (!d || d->status != 200) return failed("document", d);
  const nlohmann::json doc = nlohmann::json::parse(d->body);
  EXPECT_EQ(doc["document"]["type"], "kr_resident_registration") << d->body;
  EXPECT_EQ(doc["document"]["issuing_country"], "KOR") << d->body;
  for (size_t at = 0; at < clip.jpegs.size(); at += 30) {
    httplib::MultipartFormDataItems items;
    std::vector<int64_t> ts;
    for (size_t i = at; i < std::min(clip.jpegs.size(), at + 30); ++i) {
      items.push_back({"frames", clip.jpegs[i], "f.jpg", "image/jpeg"});
      ts.push_back(clip.t_ms[i]);
    }
    items.push_back({"timestamps", nlohmann::json(ts).dump(), "", "application/json"});
    auto f = cli->Post(("/v1/sessions/" + id + "/frames").c_str(), auth, items);
    if (!f || f->status != 200) return failed("frames", f);
    const nlohmann::json fr = nlohmann::json::parse(f->body);
    EXPECT_TRUE(fr.contains("quality_flags") && fr.contains("faces_found")) << f->body;  // the page's live advice
  }
  auto r = cli->Post(("/v1/sessions/" + id + "/decision").c_str(), auth,
                     nlohmann::json{{"nonce", session["nonce"]}}.dump(), "application/json");
  if (!r || r->status != 200) return failed("decision", r);
  nlohmann::json out = nlohmann::json::parse(r->body);
  out["challenge"] = session["challenge"];
  return out;
}

}  // namespace idm::test
