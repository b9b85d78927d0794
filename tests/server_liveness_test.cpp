// The service with liveness required (its default): a real blinking person passes a blink
// challenge and is matched with the portrait on a (generated) card of theirs; the same clip fails any other challenge, and
// single stills never pass. The clip is decoded and re-encoded in memory only.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "document/cardgen.h"
#include "document/layout.h"
#include "server_harness.h"
#include "test_util.h"

namespace idm {
namespace {

using nlohmann::json;

const char* kClip = "/data/videos/blink_detector/videos/test.mp4";

struct EncodedClip {
  std::vector<std::string> jpegs;
  std::vector<int64_t> t_ms;
};

// At most `max_frames` frames, evenly spaced, as JPEG bytes with their capture times.
EncodedClip EncodeClip(const std::string& path, size_t max_frames) {
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

const EncodedClip& Clip() {
  static const EncodedClip c = EncodeClip(test::SharedDir() + kClip, 120);
  return c;
}

// A resident registration card (generator specimen) printed with the clip's person, photographed
// (halftone, glare, a little perspective, noise, JPEG), as JPEG bytes.
std::string CardOfTheClipPerson() {
  const std::string& mid = Clip().jpegs[Clip().jpegs.size() / 2];
  cv::Mat bgr = cv::imdecode(cv::Mat(1, static_cast<int>(mid.size()), CV_8U, const_cast<char*>(mid.data())), cv::IMREAD_COLOR);
  // The generator cuts the portrait from the photo's centre: centre it on the face first.
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

class ServerLiveness : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Exists(test::SharedDir() + kClip)) GTEST_SKIP() << "missing " << kClip;
  }
  // Opens a session on `server`, sends the middle frame as the document (a face photo stands in
  // for the card's portrait) and the clip in batches, then asks for the decision.
  json RunSession(const test::ServerProcess& server, const std::string& key, const EncodedClip& clip) {
    auto cli = server.Client();
    const httplib::Headers auth = {{"Authorization", "Bearer " + key}};
    auto s = cli->Post("/v1/sessions", auth, "", "application/json");
    EXPECT_EQ(s->status, 201);
    const json session = json::parse(s->body);
    const std::string id = session["session_id"];
    static const std::string card = CardOfTheClipPerson();
    auto d = cli->Post(("/v1/sessions/" + id + "/document").c_str(), auth, card, "image/jpeg");
    EXPECT_EQ(d->status, 200) << d->body;
    const json doc = json::parse(d->body);
    EXPECT_EQ(doc["document"]["type"], "kr_resident_registration") << d->body;
    EXPECT_EQ(doc["document"]["issuing_country"], "KOR") << d->body;
    for (size_t at = 0; at < clip.jpegs.size(); at += 30) {
      httplib::MultipartFormDataItems items;
      std::vector<int64_t> ts;
      for (size_t i = at; i < std::min(clip.jpegs.size(), at + 30); ++i) {
        items.push_back({"frames", clip.jpegs[i], "f.jpg", "image/jpeg"});
        ts.push_back(clip.t_ms[i]);
      }
      items.push_back({"timestamps", json(ts).dump(), "", "application/json"});
      auto f = cli->Post(("/v1/sessions/" + id + "/frames").c_str(), auth, items);
      EXPECT_EQ(f->status, 200) << f->body;
      const json fr = json::parse(f->body);
      EXPECT_TRUE(fr.contains("quality_flags") && fr.contains("faces_found")) << f->body;  // the page's live advice
    }
    auto r = cli->Post(("/v1/sessions/" + id + "/decision").c_str(), auth, json{{"nonce", session["nonce"]}}.dump(),
                       "application/json");
    EXPECT_EQ(r->status, 200) << r->body;
    json out = json::parse(r->body);
    out["challenge"] = session["challenge"];
    return out;
  }
};

TEST_F(ServerLiveness, BlinkingPersonPassesABlinkChallengeAndMatchesTheirPortrait) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path(), {"--challenge", "blink"});
  ASSERT_TRUE(server.ok());
  const json out = RunSession(server, key, Clip());
  EXPECT_EQ(out["challenge"], "blink");
  EXPECT_EQ(out["liveness"]["verdict"], "live") << out.dump();
  EXPECT_EQ(out["decision"], "match") << out.dump();
  EXPECT_LT(out["liveness"]["score"].get<double>(), 0.5) << out.dump();
}

TEST_F(ServerLiveness, TheSameClipFailsATurnChallenge) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path(), {"--challenge", "turn-left,blink"});
  ASSERT_TRUE(server.ok());
  const json out = RunSession(server, key, Clip());
  EXPECT_NE(out["liveness"]["verdict"], "live") << out.dump();
  // The face is the portrait's, but not done live: never a match.
  EXPECT_EQ(out["decision"], "liveness_failed") << out.dump();
  EXPECT_NE(out["liveness_reasons"].dump().find("turn_left_not_detected"), std::string::npos) << out.dump();
}

TEST_F(ServerLiveness, StillsNeverPassTheDefaultRandomChallenge) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path());
  ASSERT_TRUE(server.ok());
  // The same still, twice: no action can be seen.
  EncodedClip stills;
  stills.jpegs = {Clip().jpegs[0], Clip().jpegs[0]};
  stills.t_ms = {Clip().t_ms[0], Clip().t_ms[0] + 500};
  const json out = RunSession(server, key, stills);
  EXPECT_NE(out["liveness"]["verdict"], "live") << out.dump();
  EXPECT_EQ(out["decision"], "liveness_failed") << out.dump();
}

}  // namespace
}  // namespace idm
