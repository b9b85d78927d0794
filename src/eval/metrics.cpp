#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <utility>

#include "core/error.h"

namespace idm::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, message);
}

void CheckScores(const std::vector<double>& scores, const char* what) {
  if (scores.empty()) Invalid(std::string(what) + ": no scores");
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      Invalid(std::string(what) + ": score " + std::to_string(i) + " is not finite");
    }
  }
}

void CheckLabelled(const std::vector<double>& scores, const std::vector<bool>& genuine,
                   const char* what) {
  if (scores.size() != genuine.size()) {
    Invalid(std::string(what) + ": " + std::to_string(scores.size()) + " scores but " +
            std::to_string(genuine.size()) + " genuine flags");
  }
  CheckScores(scores, what);
}

void CheckRate(double rate, const char* what) {
  if (!(rate >= 0.0 && rate <= 1.0)) Invalid(std::string(what) + ": target rate must be in [0, 1]");
}

void CheckCurve(const RocCurve& roc, const char* what) {
  if (roc.points.size() < 2 || roc.genuine_count == 0 || roc.impostor_count == 0) {
    Invalid(std::string(what) + ": empty ROC curve (need genuine and impostor scores)");
  }
}

// (score, genuine) sorted by decreasing score; the order within a tie does not matter because
// ties are always consumed as a group.
std::vector<std::pair<double, bool>> SortedDescending(const std::vector<double>& scores,
                                                      const std::vector<bool>& genuine) {
  std::vector<std::pair<double, bool>> items(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) items[i] = {scores[i], genuine[i]};
  std::sort(items.begin(), items.end(),
            [](const auto& x, const auto& y) { return x.first > y.first; });
  return items;
}

// Midpoint of a > b that is guaranteed to lie in (b, a].
double CellMidpoint(double a, double b) {
  const double mid = a / 2 + b / 2;
  return (mid > b && mid <= a) ? mid : a;
}

}  // namespace

RocCurve ComputeRoc(const std::vector<double>& scores, const std::vector<bool>& genuine) {
  CheckLabelled(scores, genuine, "ComputeRoc");
  RocCurve roc;
  for (bool g : genuine) (g ? roc.genuine_count : roc.impostor_count)++;
  if (roc.genuine_count == 0) Invalid("ComputeRoc: no genuine scores");
  if (roc.impostor_count == 0) Invalid("ComputeRoc: no impostor scores");

  const auto items = SortedDescending(scores, genuine);
  const double ng = static_cast<double>(roc.genuine_count);
  const double ni = static_cast<double>(roc.impostor_count);
  roc.points.push_back({kInf, 0.0, 0.0, 0, 0});
  std::size_t fa = 0, ta = 0;
  for (std::size_t i = 0; i < items.size();) {
    const double t = items[i].first;
    for (; i < items.size() && items[i].first == t; ++i) (items[i].second ? ta : fa)++;
    roc.points.push_back({t, static_cast<double>(fa) / ni, static_cast<double>(ta) / ng, fa, ta});
  }
  return roc;
}

double RocAuc(const RocCurve& roc) {
  CheckCurve(roc, "RocAuc");
  // Twice the trapezoid area in count units: sum of dFA * (TA_prev + TA). Exact in 64 bits while
  // genuine_count * impostor_count < 2^63.
  unsigned long long twice_area = 0;
  for (std::size_t k = 1; k < roc.points.size(); ++k) {
    const RocPoint& p = roc.points[k - 1];
    const RocPoint& q = roc.points[k];
    twice_area += static_cast<unsigned long long>(q.false_accepts - p.false_accepts) *
                  (p.true_accepts + q.true_accepts);
  }
  return static_cast<double>(twice_area) /
         (2.0 * static_cast<double>(roc.genuine_count) * static_cast<double>(roc.impostor_count));
}

double RocAuc(const std::vector<double>& scores, const std::vector<bool>& genuine) {
  return RocAuc(ComputeRoc(scores, genuine));
}

EerPoint EqualErrorRate(const RocCurve& roc) {
  CheckCurve(roc, "EqualErrorRate");
  // g = FAR - FRR = FAR + TAR - 1 rises from -1 at (0, 0) to +1 at (1, 1).
  const auto g = [](const RocPoint& p) { return p.far + p.tar - 1.0; };
  for (std::size_t k = 1; k < roc.points.size(); ++k) {
    const RocPoint& p = roc.points[k - 1];
    const RocPoint& q = roc.points[k];
    if (g(q) < 0.0) continue;
    // g(p) < 0 <= g(q), so the denominator is positive.
    const double alpha = -g(p) / (g(q) - g(p));
    const double far = p.far + alpha * (q.far - p.far);
    const double frr = (1.0 - p.tar) + alpha * (p.tar - q.tar);
    return {0.5 * (far + frr), q.threshold};  // far == frr up to rounding
  }
  return {1.0, roc.points.back().threshold};  // unreachable for a valid curve
}

OperatingPoint TarAtFar(const RocCurve& roc, double target_far) {
  CheckCurve(roc, "TarAtFar");
  CheckRate(target_far, "TarAtFar");
  // FAR and TAR are non-decreasing along the curve: the best point is the last one within the
  // target, moved back to the first point sharing its TAR.
  std::size_t best = 0;
  for (std::size_t k = 0; k < roc.points.size() && roc.points[k].far <= target_far; ++k) best = k;
  while (best > 0 && roc.points[best - 1].true_accepts == roc.points[best].true_accepts) --best;
  const RocPoint& p = roc.points[best];
  return {p.tar, p.far, p.threshold};
}

FmrThreshold ThresholdForFmr(const std::vector<double>& impostor_scores, double target_fmr) {
  CheckScores(impostor_scores, "ThresholdForFmr");
  CheckRate(target_fmr, "ThresholdForFmr");
  std::vector<double> s = impostor_scores;
  std::sort(s.begin(), s.end(), std::greater<>());
  const double n = static_cast<double>(s.size());

  FmrThreshold out;
  out.impostor_count = s.size();
  out.threshold = std::nextafter(s.front(), kInf);
  for (std::size_t i = 0; i < s.size();) {
    const double t = s[i];
    std::size_t j = i;
    while (j < s.size() && s[j] == t) ++j;  // the whole tie group passes at threshold t
    if (static_cast<double>(j) / n > target_fmr) break;
    out.threshold = t;
    out.false_matches = j;
    i = j;
  }
  out.fmr = static_cast<double>(out.false_matches) / n;
  return out;
}

FoldAccuracy TenFoldAccuracy(const std::vector<double>& scores, const std::vector<bool>& genuine,
                             const std::vector<int>& folds) {
  CheckLabelled(scores, genuine, "TenFoldAccuracy");
  if (folds.size() != scores.size()) {
    Invalid("TenFoldAccuracy: " + std::to_string(scores.size()) + " scores but " +
            std::to_string(folds.size()) + " fold ids");
  }
  std::map<int, std::size_t> fold_index;
  for (int f : folds) fold_index.emplace(f, 0);
  if (fold_index.size() < 2) Invalid("TenFoldAccuracy: need at least 2 distinct folds");
  FoldAccuracy out;
  for (auto& [id, index] : fold_index) {
    index = out.fold_ids.size();
    out.fold_ids.push_back(id);
  }

  // Sort once; each fold's training sweep skips its own items.
  struct Item {
    double score;
    bool genuine;
    std::size_t fold;
  };
  std::vector<Item> items(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    items[i] = {scores[i], genuine[i], fold_index.at(folds[i])};
  }
  std::sort(items.begin(), items.end(),
            [](const Item& x, const Item& y) { return x.score > y.score; });

  const std::size_t k_folds = out.fold_ids.size();
  for (std::size_t k = 0; k < k_folds; ++k) {
    // Distinct training scores u_0 > u_1 > ... with their (genuine - impostor) count deltas.
    std::vector<double> u;
    long long correct = 0;  // correct decisions at the current cell; reject-all to start
    std::vector<long long> delta;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].fold == k) continue;
      if (!items[i].genuine) ++correct;
      if (u.empty() || items[i].score != u.back()) {
        u.push_back(items[i].score);
        delta.push_back(0);
      }
      delta.back() += items[i].genuine ? 1 : -1;
    }
    // Cell j accepts scores >= u_j; cell -1 rejects everything. Strict '>' keeps the highest.
    long long best = correct;
    std::ptrdiff_t best_cell = -1;
    for (std::size_t j = 0; j < u.size(); ++j) {
      correct += delta[j];
      if (correct > best) {
        best = correct;
        best_cell = static_cast<std::ptrdiff_t>(j);
      }
    }
    double threshold;
    if (best_cell < 0) {
      threshold = std::nextafter(u.front(), kInf);
    } else if (static_cast<std::size_t>(best_cell) + 1 == u.size()) {
      threshold = u.back();
    } else {
      const auto j = static_cast<std::size_t>(best_cell);
      threshold = CellMidpoint(u[j], u[j + 1]);
    }

    std::size_t right = 0, total = 0;
    for (const Item& item : items) {
      if (item.fold != k) continue;
      ++total;
      if ((item.score >= threshold) == item.genuine) ++right;
    }
    out.thresholds.push_back(threshold);
    out.accuracies.push_back(static_cast<double>(right) / static_cast<double>(total));
  }

  const double kd = static_cast<double>(k_folds);
  double sum = 0;
  for (double a : out.accuracies) sum += a;
  out.mean = sum / kd;
  double ss = 0;
  for (double a : out.accuracies) ss += (a - out.mean) * (a - out.mean);
  out.std = std::sqrt(ss / (kd - 1.0));
  out.std_error = out.std / std::sqrt(kd);
  return out;
}

// ---------------------------------------------------------------------------------------------
// SVG rendering.

namespace {

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string FmtThreshold(double t) { return std::isinf(t) ? std::string("+inf") : Fmt("%.4g", t); }

}  // namespace

std::string RocSvg(const RocCurve& roc, const std::string& title) {
  CheckCurve(roc, "RocSvg");
  constexpr double kWidth = 680, kHeight = 600, kLegendH = 52;
  constexpr double kLeft = 72, kRight = 24, kTop = 52, kBottom = 66 + kLegendH + 8;
  constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
  constexpr double kMinLogFar = -4.0;  // FAR axis 1e-4 .. 1

  const auto x_of = [&](double far) {
    const double lf = far > 0 ? std::max(std::log10(far), kMinLogFar) : kMinLogFar;
    return kLeft + (std::min(lf, 0.0) - kMinLogFar) / -kMinLogFar * kPlotW;
  };
  const auto y_of = [&](double tar) { return kTop + (1.0 - std::clamp(tar, 0.0, 1.0)) * kPlotH; };
  const auto px = [](double v) { return Fmt("%.1f", v); };

  const EerPoint eer = EqualErrorRate(roc);
  const OperatingPoint at3 = TarAtFar(roc, 1e-3);
  const double auc = RocAuc(roc);

  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(kWidth) + "\" height=\"" +
       px(kHeight) + "\" viewBox=\"0 0 " + px(kWidth) + " " + px(kHeight) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  s += "<title>" + XmlEscape(title) + "</title>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + px(kWidth) + "\" height=\"" + px(kHeight) +
       "\" fill=\"white\"/>\n";
  s += "<text x=\"" + px(kWidth / 2) + "\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" " +
       "font-weight=\"bold\">" + XmlEscape(title) + "</text>\n";

  // Grid: FAR decades (solid) and 2..9 sub-decades (faint); TAR every 0.1.
  s += "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  for (int d = -4; d < 0; ++d) {
    for (int m = 2; m <= 9; ++m) {
      const double x = x_of(m * std::pow(10.0, d));
      s += "<line x1=\"" + px(x) + "\" y1=\"" + px(kTop) + "\" x2=\"" + px(x) + "\" y2=\"" +
           px(kTop + kPlotH) + "\"/>\n";
    }
  }
  s += "</g>\n<g stroke=\"#bdbdbd\" stroke-width=\"1\">\n";
  for (int d = -4; d <= 0; ++d) {
    const double x = x_of(std::pow(10.0, d));
    s += "<line x1=\"" + px(x) + "\" y1=\"" + px(kTop) + "\" x2=\"" + px(x) + "\" y2=\"" +
         px(kTop + kPlotH) + "\"/>\n";
  }
  for (int t = 0; t <= 10; ++t) {
    const double y = y_of(t / 10.0);
    s += "<line x1=\"" + px(kLeft) + "\" y1=\"" + px(y) + "\" x2=\"" + px(kLeft + kPlotW) +
         "\" y2=\"" + px(y) + "\"/>\n";
  }
  s += "</g>\n";
  s += "<rect x=\"" + px(kLeft) + "\" y=\"" + px(kTop) + "\" width=\"" + px(kPlotW) +
       "\" height=\"" + px(kPlotH) + "\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n";

  // Tick labels and axis titles.
  s += "<g fill=\"#333333\">\n";
  for (int d = -4; d <= 0; ++d) {
    const double x = x_of(std::pow(10.0, d));
    const std::string y = px(kTop + kPlotH + 18);
    if (d == 0) {
      s += "<text x=\"" + px(x) + "\" y=\"" + y + "\" text-anchor=\"middle\">1</text>\n";
    } else {
      s += "<text x=\"" + px(x) + "\" y=\"" + y + "\" text-anchor=\"middle\">10<tspan dy=\"-6\" " +
           "font-size=\"9\">" + std::to_string(d) + "</tspan></text>\n";
    }
  }
  for (int t = 0; t <= 10; t += 2) {
    s += "<text x=\"" + px(kLeft - 8) + "\" y=\"" + px(y_of(t / 10.0) + 4) +
         "\" text-anchor=\"end\">" + Fmt("%.1f", t / 10.0) + "</text>\n";
  }
  s += "<text x=\"" + px(kLeft + kPlotW / 2) + "\" y=\"" + px(kTop + kPlotH + 44) +
       "\" text-anchor=\"middle\" font-size=\"13\">False accept rate (FAR, log scale)</text>\n";
  s += "<text x=\"18\" y=\"" + px(kTop + kPlotH / 2) + "\" text-anchor=\"middle\" " +
       "font-size=\"13\" transform=\"rotate(-90 18 " + px(kTop + kPlotH / 2) +
       ")\">True accept rate (TAR)</text>\n";
  s += "</g>\n";

  // Chance line TAR = FAR (a curve on a log axis).
  s += "<polyline fill=\"none\" stroke=\"#9e9e9e\" stroke-width=\"1\" stroke-dasharray=\"4 3\" "
       "points=\"";
  for (int i = 0; i <= 64; ++i) {
    const double far = std::pow(10.0, kMinLogFar * (1.0 - i / 64.0));
    if (i) s += ' ';
    s += px(x_of(far));
    s += ',';
    s += px(y_of(far));
  }
  s += "\"/>\n";

  // The ROC, thinned to one vertex per 0.1 px (the curve is monotone, so nothing is lost).
  s += "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\" "
       "stroke-linejoin=\"round\" points=\"";
  std::string last;
  for (std::size_t k = 0; k < roc.points.size(); ++k) {
    const std::string v = px(x_of(roc.points[k].far)) + "," + px(y_of(roc.points[k].tar));
    if (v == last) continue;
    if (!last.empty()) s += ' ';
    s += v;
    last = v;
  }
  s += "\"/>\n";

  // Markers.
  const std::string ex = px(x_of(eer.eer)), ey = px(y_of(1.0 - eer.eer));
  const double ax = x_of(at3.far), ay = y_of(at3.tar);
  s += "<rect x=\"" + px(ax - 4.5) + "\" y=\"" + px(ay - 4.5) +
       "\" width=\"9\" height=\"9\" fill=\"#2e7d32\" stroke=\"white\" stroke-width=\"1\"/>\n";
  s += "<circle cx=\"" + ex + "\" cy=\"" + ey +
       "\" r=\"7\" fill=\"none\" stroke=\"#d32f2f\" stroke-width=\"2.5\"/>\n";

  // Legend: a 2 x 2 box under the axis title, so it never hides the curve.
  const double lx = kLeft, ly = kTop + kPlotH + 58, col = 216;
  s += "<g>\n<rect x=\"" + px(lx) + "\" y=\"" + px(ly) + "\" width=\"" + px(kPlotW) +
       "\" height=\"" + px(kLegendH) + "\" fill=\"#fafafa\" stroke=\"#bdbdbd\"/>\n";
  const double r0 = ly + 20, r1 = ly + 41;
  s += "<line x1=\"" + px(lx + 10) + "\" y1=\"" + px(r0 - 4) + "\" x2=\"" + px(lx + 28) +
       "\" y2=\"" + px(r0 - 4) + "\" stroke=\"#1565c0\" stroke-width=\"2\"/>\n";
  s += "<text x=\"" + px(lx + 36) + "\" y=\"" + px(r0) + "\">ROC, AUC " + Fmt("%.5f", auc) +
       "</text>\n";
  s += "<text x=\"" + px(lx + 36) + "\" y=\"" + px(r1) + "\" fill=\"#555555\">" +
       std::to_string(roc.genuine_count) + " genuine, " + std::to_string(roc.impostor_count) +
       " impostor</text>\n";
  s += "<circle cx=\"" + px(lx + col + 19) + "\" cy=\"" + px(r0 - 4) +
       "\" r=\"6\" fill=\"none\" stroke=\"#d32f2f\" stroke-width=\"2.5\"/>\n";
  s += "<text x=\"" + px(lx + col + 36) + "\" y=\"" + px(r0) + "\">EER " +
       Fmt("%.2f", 100 * eer.eer) + "% (threshold " + FmtThreshold(eer.threshold) + ")</text>\n";
  s += "<rect x=\"" + px(lx + col + 14.5) + "\" y=\"" + px(r1 - 8.5) +
       "\" width=\"9\" height=\"9\" fill=\"#2e7d32\"/>\n";
  s += "<text x=\"" + px(lx + col + 36) + "\" y=\"" + px(r1) + "\">TAR@FAR=0.1%: " +
       Fmt("%.2f", 100 * at3.tar) + "% (threshold " + FmtThreshold(at3.threshold) + ")</text>\n";
  s += "</g>\n</svg>\n";
  return s;
}

}  // namespace idm::eval
