#include "liveness/sequence.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>


#include "face/tf_image_ops.h"

namespace idm::liveness {

namespace {

float Median(std::vector<float> v) {
  if (v.empty()) return 0.f;
  auto mid = v.begin() + static_cast<long>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float Percentile(std::vector<float> v, float q) {
  if (v.empty()) return 0.f;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::clamp(q, 0.f, 1.f) * static_cast<float>(v.size() - 1) + 0.5f)];
}

cv::Point2f P2(const face::FaceMesh& m, int i) { return {m.points[i].x, m.points[i].y}; }
float D(const cv::Point2f& a, const cv::Point2f& b) { return std::hypot(a.x - b.x, a.y - b.y); }
float EyeDist(const face::FaceMesh& m) { return D((P2(m, 33) + P2(m, 133)) * 0.5f, (P2(m, 362) + P2(m, 263)) * 0.5f); }

// Points near the eyes move when the eyelids do: left out of the homography used to undo pose.
std::vector<int> RigidFor(const face::FaceMesh& m) {
  const cv::Point2f re = (P2(m, 33) + P2(m, 133)) * 0.5f, le = (P2(m, 362) + P2(m, 263)) * 0.5f;
  const float r = 0.32f * D(re, le);
  std::vector<int> out;
  for (int i = 0; i < 468; ++i) {
    const cv::Point2f p = P2(m, i);
    if (D(p, re) > r && D(p, le) > r) out.push_back(i);
  }
  return out;
}

// Hartley normalisation: centroid to the origin, mean distance sqrt(2).
cv::Matx33d Normaliser(const std::vector<cv::Point2f>& p) {
  double cx = 0, cy = 0;
  for (const auto& q : p) cx += q.x, cy += q.y;
  cx /= static_cast<double>(p.size()), cy /= static_cast<double>(p.size());
  double d = 0;
  for (const auto& q : p) d += std::hypot(q.x - cx, q.y - cy);
  d = std::max(d / static_cast<double>(p.size()), 1e-9);
  const double s = std::sqrt(2.0) / d;
  return {s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1};
}

// Least-squares homography (normalised DLT) taking `from`'s points (indices `idx`) onto `to`'s.
// (OpenCV's calib3d is not linked; the DLT is a few lines.)
cv::Mat FitHomography(const face::FaceMesh& from, const face::FaceMesh& to, const std::vector<int>& idx) {
  if (idx.size() < 4) return {};
  std::vector<cv::Point2f> a, b;
  a.reserve(idx.size());
  b.reserve(idx.size());
  for (int i : idx) a.push_back(P2(from, i)), b.push_back(P2(to, i));
  const cv::Matx33d Ta = Normaliser(a), Tb = Normaliser(b);
  cv::Mat A(static_cast<int>(2 * idx.size()), 9, CV_64F);
  for (size_t k = 0; k < a.size(); ++k) {
    const cv::Vec3d p = Ta * cv::Vec3d(a[k].x, a[k].y, 1), q = Tb * cv::Vec3d(b[k].x, b[k].y, 1);
    double* r0 = A.ptr<double>(static_cast<int>(2 * k));
    double* r1 = A.ptr<double>(static_cast<int>(2 * k + 1));
    const double x = p[0], y = p[1], u = q[0], v = q[1];
    const double row0[9] = {-x, -y, -1, 0, 0, 0, u * x, u * y, u};
    const double row1[9] = {0, 0, 0, -x, -y, -1, v * x, v * y, v};
    std::copy(row0, row0 + 9, r0);
    std::copy(row1, row1 + 9, r1);
  }
  cv::Mat h;
  cv::SVD::solveZ(A, h);
  if (h.empty()) return {};
  const cv::Matx33d Hn(h.ptr<double>());
  cv::Matx33d H = Tb.inv() * Hn * Ta;
  if (std::abs(H(2, 2)) < 1e-12) return {};
  H *= 1.0 / H(2, 2);
  return cv::Mat(H).clone();
}

cv::Point2f Apply(const cv::Mat& H, const cv::Point2f& p) {
  const double* h = H.ptr<double>();
  const double w = h[6] * p.x + h[7] * p.y + h[8];
  return {static_cast<float>((h[0] * p.x + h[1] * p.y + h[2]) / w), static_cast<float>((h[3] * p.x + h[4] * p.y + h[5]) / w)};
}

// Eye aspect ratio of mesh `m` after mapping it into reference coordinates with H.
float PlanarEar(const face::FaceMesh& m, const cv::Mat& H) {
  auto q = [&](int i) { return Apply(H, P2(m, i)); };
  const float r = D(q(159), q(145)) / std::max(D(q(33), q(133)), 1e-3f);
  const float l = D(q(386), q(374)) / std::max(D(q(362), q(263)), 1e-3f);
  return 0.5f * (l + r);
}

// Inner over outer proportions: eye spans over cheek-to-cheek width (grows as a real face comes
// closer, because the cheeks are further from the camera than the eyes and nose).
float InnerOuter(const std::vector<cv::Point2f>& p) {
  const float outer = std::max(D(p[234], p[454]), 1e-3f);
  return 0.5f * (D(p[33], p[263]) + D(p[133], p[362])) / outer;
}

std::vector<cv::Point2f> Points2(const face::FaceMesh& m) {
  std::vector<cv::Point2f> v(468);
  for (int i = 0; i < 468; ++i) v[i] = P2(m, i);
  return v;
}

int FirstFace(const std::vector<FrameObservation>& f, int from) {
  for (int i = std::max(from, 0); i < static_cast<int>(f.size()); ++i) {
    if (f[i].face) return i;
  }
  return -1;
}

// The signal an action is measured on, for frame i (NaN when there is no face).
float Signal(const FrameObservation& o, Action a) {
  switch (a) {
    case Action::kTurnLeft: return o.yaw_deg;     // sign: see docs/liveness.md
    case Action::kTurnRight: return -o.yaw_deg;
    case Action::kLookUp: return o.pitch_deg;
    case Action::kComeCloser: return o.eye_distance_px;
    case Action::kBlink: return 0.5f * (o.ear_left + o.ear_right);
  }
  return 0.f;
}

// Coefficient of variation of the per-frame increments of `s` over [b, e]: a human movement is
// uneven; an animation of a picture is typically constant-speed.
float IncrementCv(const std::vector<FrameObservation>& f, Action a, int b, int e) {
  std::vector<float> inc;
  for (int i = b + 1; i <= e; ++i) {
    if (f[i].face && f[i - 1].face) inc.push_back(Signal(f[i], a) - Signal(f[i - 1], a));
  }
  if (inc.size() < 4) return 1.f;
  const float mean = std::accumulate(inc.begin(), inc.end(), 0.f) / static_cast<float>(inc.size());
  float var = 0;
  for (float x : inc) var += (x - mean) * (x - mean);
  return std::sqrt(var / static_cast<float>(inc.size())) / std::max(std::abs(mean), 1e-6f);
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kLive: return "live";
    case Verdict::kAttack: return "attack";
    case Verdict::kInconclusive: return "inconclusive";
  }
  return "?";
}

float PlanarResidual(const face::FaceMesh& a, const face::FaceMesh& b) {
  std::vector<int> all(468);
  std::iota(all.begin(), all.end(), 0);
  const cv::Mat H = FitHomography(a, b, all);
  if (H.empty()) return 0.f;
  double ss = 0;
  for (int i = 0; i < 468; ++i) {
    const cv::Point2f d = Apply(H, P2(a, i)) - P2(b, i);
    ss += d.x * d.x + d.y * d.y;
  }
  // In eye distances of the larger of the two faces, so that scale does not inflate it.
  return static_cast<float>(std::sqrt(ss / 468.0)) / std::max({EyeDist(a), EyeDist(b), 1e-3f});
}

ActionResult DetectAction(const std::vector<FrameObservation>& f, Action a, int from, const SequenceThresholds& t) {
  ActionResult r;
  r.action = a;
  const int n = static_cast<int>(f.size());
  const int base = FirstFace(f, from);
  if (base < 0) {
    r.detail = "no face";
    return r;
  }
  if (a == Action::kBlink) {
    // Eye ratio with the face's homography (from the non-eye points) undone onto the base frame.
    const std::vector<int> rigid = RigidFor(f[base].mesh);
    std::vector<float> ear(static_cast<size_t>(n), NAN), raw(static_cast<size_t>(n), NAN);
    std::vector<float> open_vals, raw_vals;
    for (int i = base; i < n; ++i) {
      if (!f[i].face) continue;
      const cv::Mat H = FitHomography(f[i].mesh, f[base].mesh, rigid);
      if (H.empty()) continue;
      ear[i] = PlanarEar(f[i].mesh, H);
      raw[i] = Signal(f[i], a);
      open_vals.push_back(ear[i]);
      raw_vals.push_back(raw[i]);
    }
    const float open = Percentile(open_vals, 0.75f), raw_open = Percentile(raw_vals, 0.75f);
    if (open <= 0) {
      r.detail = "no eyes measured";
      return r;
    }
    // Scan for open -> closed -> open within blink_max_ms.
    int last_open = -1;
    float raw_min_drop = 1.f, planar_min = 1.f;
    for (int i = base; i < n; ++i) {
      if (std::isnan(ear[i])) continue;
      raw_min_drop = std::min(raw_min_drop, raw[i] / std::max(raw_open, 1e-6f));
      planar_min = std::min(planar_min, ear[i] / open);
      if (ear[i] >= t.blink_recover * open) {
        last_open = i;
        continue;
      }
      if (ear[i] < t.blink_drop * open && last_open >= 0) {
        // Closed: find the deepest point and the reopening.
        int peak = i, reopen = -1;
        for (int k = i; k < n; ++k) {
          if (std::isnan(ear[k])) continue;
          if (f[k].t_ms - f[last_open].t_ms > t.blink_max_ms) break;
          if (ear[k] < ear[peak]) peak = k;
          if (ear[k] >= t.blink_recover * open) {
            reopen = k;
            break;
          }
        }
        if (reopen >= 0) {
          r.detected = true;
          r.non_planar = true;  // measured with the face's own plane motion undone
          r.begin_frame = last_open, r.peak_frame = peak, r.end_frame = reopen;
          r.amount = 1.f - ear[peak] / open;
          r.nonplanar = r.amount;
          r.detail = "eye ratio fell to " + std::to_string(ear[peak] / open).substr(0, 4) + " of open";
          break;
        }
      }
    }
    if (!r.detected) {
      r.amount = 1.f - raw_min_drop;
      // The raw eye ratio dipped like a blink while the plane-corrected one stayed within 10% of
      // open: the eyes moved only with the whole face, as a flat picture tilted to fake a blink.
      if (raw_min_drop < t.blink_drop && planar_min > 0.9f) {
        r.detail = "eye ratio dipped only with the whole face (flat picture tilted)";
        r.nonplanar = 0.f;
        r.peak_frame = base;  // marks "movement seen" for the planar score
      } else {
        r.detail = "no blink";
      }
    }
  } else {
    // Base level: median of the first 3 face frames.
    std::vector<float> head;
    for (int i = base; i < n && head.size() < 3; ++i) {
      if (f[i].face) head.push_back(Signal(f[i], a));
    }
    const float s0 = Median(head);
    auto reached = [&](float s) {
      if (a == Action::kComeCloser) return s >= t.closer_ratio * s0;
      return s - s0 >= (a == Action::kLookUp ? t.look_up_deg : t.turn_deg);
    };
    auto moving = [&](float s) {
      if (a == Action::kComeCloser) return s >= 1.05f * s0;
      return s - s0 >= 3.f;
    };
    int begin = -1, hit = -1;
    for (int i = base; i < n; ++i) {
      if (!f[i].face) continue;
      const float s = Signal(f[i], a);
      if (!moving(s)) begin = -1;
      else if (begin < 0) begin = i;
      if (reached(s)) {
        hit = i;
        break;
      }
    }
    float best = -1e9f;
    for (int i = base; i < n; ++i) {
      if (f[i].face) best = std::max(best, Signal(f[i], a));
    }
    r.amount = a == Action::kComeCloser ? best / std::max(s0, 1e-3f) : best - s0;
    if (hit < 0) {
      r.detail = "not reached";
      return r;
    }
    // Peak: the extreme within 1 s after the threshold was crossed.
    int peak = hit;
    for (int i = hit; i < n && f[i].t_ms - f[hit].t_ms <= 1000; ++i) {
      if (f[i].face && Signal(f[i], a) > Signal(f[peak], a)) peak = i;
    }
    r.detected = true;
    r.begin_frame = begin >= 0 ? begin : hit;
    r.peak_frame = peak;
    r.end_frame = hit;
    r.amount = a == Action::kComeCloser ? Signal(f[peak], a) / std::max(s0, 1e-3f) : Signal(f[peak], a) - s0;
    // The reference: the last face frame before the movement began.
    int ref = std::max(base, r.begin_frame > base ? r.begin_frame - 1 : base);
    while (ref > base && !f[ref].face) --ref;
    if (a == Action::kComeCloser) {
      // Undo the best plane motion; what is left in the inner/outer proportions is depth.
      std::vector<int> all(468);
      std::iota(all.begin(), all.end(), 0);
      const cv::Mat H = FitHomography(f[ref].mesh, f[peak].mesh, all);
      if (H.empty()) {
        r.detail = "degenerate landmarks";
        r.detected = false;
        return r;
      }
      // Measured on every frame that is close (eye distance past the threshold) within 1 s of the
      // crossing; the median of at least 2: a real face shows it on all of them, landmark noise on
      // a re-captured picture on one or two.
      std::vector<float> depth;
      for (int k = hit; k < n && f[k].t_ms - f[hit].t_ms <= 1000; ++k) {
        if (!f[k].face || !reached(Signal(f[k], a))) continue;  // every "close" frame within 1 s
        const cv::Mat Hk = FitHomography(f[ref].mesh, f[k].mesh, all);
        if (Hk.empty()) continue;
        std::vector<cv::Point2f> pred(468);
        for (int i = 0; i < 468; ++i) pred[i] = Apply(Hk, P2(f[ref].mesh, i));
        depth.push_back(InnerOuter(Points2(f[k].mesh)) / std::max(InnerOuter(pred), 1e-6f) - 1.f);
      }
      r.nonplanar = depth.size() >= 2 ? Median(depth) : 0.f;
      r.non_planar = r.nonplanar >= t.min_closer_depth;
    } else {
      r.nonplanar = PlanarResidual(f[ref].mesh, f[peak].mesh);
      r.non_planar = r.nonplanar >= t.min_nonplanar;
    }
  }
  if (r.detected) {
    r.begin_ms = f[r.begin_frame].t_ms;
    r.end_ms = f[r.end_frame].t_ms;
  }
  return r;
}

std::vector<int> RankBestFrames(const std::vector<FrameObservation>& f, int n) {
  std::vector<float> ear;
  for (const auto& o : f) {
    if (o.face) ear.push_back(0.5f * (o.ear_left + o.ear_right));
  }
  const float open = std::max(Percentile(ear, 0.75f), 1e-3f);
  std::vector<std::pair<float, int>> scored;
  for (int i = 0; i < static_cast<int>(f.size()); ++i) {
    const auto& o = f[i];
    if (!o.face) continue;
    const float frontal = -(std::abs(o.yaw_deg) + std::abs(o.pitch_deg)) / 10.f;
    const float eyes = 2.f * std::min(0.5f * (o.ear_left + o.ear_right) / open, 1.f);
    const float sharp = 0.5f * std::log1p(o.sharpness);
    scored.emplace_back(frontal + eyes + sharp, i);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<int> out;
  for (int i = 0; i < std::min(n, static_cast<int>(scored.size())); ++i) out.push_back(scored[i].second);
  return out;
}

SequenceResult VerifySequence(const Challenge& c, const SequenceEvidence& ev, const SequenceThresholds& t) {
  const auto t0 = std::chrono::steady_clock::now();
  SequenceResult r;
  const auto& f = ev.frames;
  r.frames = static_cast<int>(f.size());
  bool hard_fail = false, soft_fail = false;
  auto reason = [&](const std::string& s) {
    if (std::find(r.reasons.begin(), r.reasons.end(), s) == r.reasons.end()) r.reasons.push_back(s);
  };
  if (f.size() < 5) {
    reason("too_few_frames");
    r.verdict = Verdict::kInconclusive;
    return r;
  }
  // Time window and ordering of timestamps.
  for (size_t i = 0; i < f.size(); ++i) {
    if (i > 0 && f[i].t_ms <= f[i - 1].t_ms) reason("timestamps_not_increasing"), hard_fail = true;
    if (f[i].t_ms < c.issued_ms || f[i].t_ms > c.expires_ms) reason("outside_challenge_window"), soft_fail = true;
  }
  // Face presence, face count and track continuity.
  std::vector<float> face_changes;
  for (size_t i = 1; i < f.size(); ++i) {
    if (f[i].face && f[i - 1].face) face_changes.push_back(f[i].face_change);
  }
  const float median_face_change = Median(face_changes);
  int64_t gap_start = -1;
  for (size_t i = 0; i < f.size(); ++i) {
    const auto& o = f[i];
    if (o.face) ++r.face_frames;
    if (o.detector_ran && o.faces_found > 1) reason("multiple_faces"), soft_fail = true;
    if (!o.face) {
      if (gap_start < 0) gap_start = i > 0 ? f[i - 1].t_ms : o.t_ms;
      continue;
    }
    if (gap_start >= 0 && o.t_ms - gap_start > t.max_gap_ms && r.face_frames > 1) {
      reason("face_track_gap"), r.track_continuous = false;
    }
    gap_start = -1;
    if (i > 0 && f[i - 1].face) {
      const float dt = static_cast<float>(std::max<int64_t>(o.t_ms - f[i - 1].t_ms, 33));
      float jump = 0;
      for (int k = 0; k < 468; ++k) jump += D(P2(o.mesh, k), P2(f[i - 1].mesh, k));
      jump /= 468.f * std::max(EyeDist(f[i - 1].mesh), 1e-3f);
      const float rate = jump * 66.7f / dt;
      if (rate > t.max_jump || (o.frame_change > t.max_frame_change && rate > 0.3f)) reason("cut_in_sequence"), r.track_continuous = false;
      if (o.face_change > t.max_face_change && o.face_change > t.face_change_spike * median_face_change) reason("cut_in_sequence"), r.track_continuous = false;
    }
  }
  if (static_cast<float>(r.face_frames) < t.min_face_fraction * static_cast<float>(f.size())) reason("face_not_visible_throughout"), soft_fail = true;

  // Actions, in order.
  int from = 0;
  float planar = 0.f;
  for (Action a : c.actions) {
    ActionResult ar = DetectAction(f, a, from, t);
    if (ar.detected) {
      from = ar.end_frame + 1;
      if (!ar.non_planar) {
        // Movement seen, but as a flat picture moves: strong evidence of an attack.
        const float thr = a == Action::kComeCloser ? t.min_closer_depth : t.min_nonplanar;
        planar = std::max(planar, 1.f - 0.5f * std::clamp(ar.nonplanar / thr, 0.f, 1.f));
        reason(std::string(ActionName(a)) + "_planar_motion");
      }
      if (a != Action::kBlink && ar.end_ms - ar.begin_ms < t.min_action_ms) reason(std::string(ActionName(a)) + "_too_fast"), soft_fail = true;
      if (a != Action::kBlink && IncrementCv(f, a, ar.begin_frame, ar.peak_frame) < 0.08f) reason(std::string(ActionName(a)) + "_too_regular"), soft_fail = true;
    } else {
      if (a == Action::kBlink && ar.peak_frame >= 0) {
        planar = std::max(planar, 0.75f);
        reason("blink_planar_motion");
      }
      reason(std::string(ActionName(a)) + "_not_detected");
      soft_fail = true;
    }
    r.actions.push_back(ar);
  }
  r.planar_score = planar;

  // Same person: sampled embeddings against their medoid.
  if (ev.embeddings.size() >= 2) {
    r.identity_checked = true;
    const size_t m = ev.embeddings.size();
    size_t medoid = 0;
    float best = -1e9f;
    for (size_t i = 0; i < m; ++i) {
      float s = 0;
      for (size_t j = 0; j < m; ++j) s += face::CosineSimilarity(ev.embeddings[i], ev.embeddings[j]);
      if (s > best) best = s, medoid = i;
    }
    for (size_t i = 0; i < m; ++i) r.identity_min_cos = std::min(r.identity_min_cos, face::CosineSimilarity(ev.embeddings[i], ev.embeddings[medoid]));
    if (r.identity_min_cos < t.same_person_cos) reason("identity_changed");
  } else {
    reason("identity_not_checked"), soft_fail = true;
  }

  // Passive cues over the checked frames (median: one odd frame does not decide).
  if (!ev.passive.empty()) {
    std::vector<float> s;
    for (const auto& p : ev.passive) s.push_back(p.attack_score);
    r.passive_score = Median(s);
    if (r.passive_score >= 0.5f) {
      for (const auto& p : ev.passive) {
        for (const auto& why : p.reasons) reason("passive_" + why);
      }
    }
  } else {
    reason("passive_not_checked"), soft_fail = true;
  }

  r.attack_score = std::max(r.passive_score, r.planar_score);
  if (r.identity_checked && r.identity_min_cos < t.same_person_cos) r.attack_score = 1.f;
  if (!r.track_continuous) r.attack_score = 1.f;
  if (hard_fail) r.attack_score = std::max(r.attack_score, 0.5f);
  r.best_frames = RankBestFrames(f, 3);

  if (r.attack_score >= t.attack) r.verdict = Verdict::kAttack;
  else if (soft_fail) r.verdict = Verdict::kInconclusive;
  else r.verdict = Verdict::kLive;
  r.analysis_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

LivenessVerifier::LivenessVerifier() : LivenessVerifier(Options{}) {}

LivenessVerifier::LivenessVerifier(const Options& o)
    : options_(o),
      frames_(FrameAnalyzerOptions{o.threads, 15, 0.5f}),
      passive_(o.threads, o.passive),
      embedder_(face::MakeResNet128Embedder(/*mesh_landmarks=*/true, /*flip=*/false, o.threads)) {}

SequenceResult LivenessVerifier::Verify(const Challenge& challenge, const std::vector<cv::Mat>& rgb,
                                        const std::vector<int64_t>& t_ms, SequenceEvidence* out) {
  SequenceEvidence ev;
  frames_.Reset();
  for (size_t i = 0; i < rgb.size(); ++i) ev.frames.push_back(frames_.Analyze(rgb[i], t_ms[i]));
  std::vector<int> face_idx;
  for (int i = 0; i < static_cast<int>(ev.frames.size()); ++i) {
    if (ev.frames[i].face) face_idx.push_back(i);
  }
  const std::vector<int> best = RankBestFrames(ev.frames, options_.passive_frames);
  // Embed near-frontal, eyes-open frames spread over the whole track (a cut anywhere lands between
  // two of them), plus the best frame; turned frames would lower the similarity of one person.
  std::vector<float> yaws, pitches;
  for (int i : face_idx) yaws.push_back(ev.frames[i].yaw_deg), pitches.push_back(ev.frames[i].pitch_deg);
  std::sort(yaws.begin(), yaws.end());
  std::sort(pitches.begin(), pitches.end());
  std::vector<int> frontal;
  if (!face_idx.empty()) {
    const float y0 = yaws[yaws.size() / 2], p0 = pitches[pitches.size() / 2];
    for (int i : face_idx) {
      if (std::abs(ev.frames[i].yaw_deg - y0) < 12 && std::abs(ev.frames[i].pitch_deg - p0) < 12) frontal.push_back(i);
    }
  }
  if (frontal.size() < 2) frontal = face_idx;
  std::vector<int> emb;
  const int k = options_.embed_frames;
  for (int j = 0; j < k && !frontal.empty(); ++j) {
    emb.push_back(frontal[static_cast<size_t>(j) * (frontal.size() - 1) / std::max(k - 1, 1)]);
  }
  for (int i : emb) {
    ev.embedded_frames.push_back(i);
    ev.embeddings.push_back(embedder_->Embed(rgb[i], face::ToFloat(rgb[i]), ev.frames[i].mesh));
  }
  for (int i : best) {
    ev.passive_frames.push_back(i);
    ev.passive.push_back(passive_.Check(rgb[i], ev.frames[i].mesh));
  }
  SequenceResult r = VerifySequence(challenge, ev, options_.thresholds);
  if (out) *out = std::move(ev);
  return r;
}

}  // namespace idm::liveness
