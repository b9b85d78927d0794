// Biometric verification metrics over a list of comparison scores. Pure maths, no model.
//
// Conventions shared by every function here:
//   - scores[i] is a similarity: HIGHER = MORE SIMILAR; genuine[i] is true for a same-identity
//     (mated) comparison, false for an impostor (non-mated) one. Negate distances before calling.
//   - Decision rule: a comparison is ACCEPTED (declared a match) iff score >= threshold.
//     So a threshold of +infinity rejects everything, the minimum score accepts everything.
//   - FAR (= FMR)  = accepted impostors / impostors;  TAR = 1 - FRR = accepted genuine / genuine.
//   - Scores must be finite and the vectors the same, non-zero length; anything else throws
//     idm::Error(kInvalidArgument). Curve metrics additionally need >= 1 genuine and >= 1 impostor.
//   - Nothing is interpolated unless stated: rates are exact count ratios at real thresholds.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace idm::eval {

// One operating point: the rates obtained by accepting every score >= threshold.
struct RocPoint {
  double threshold = 0;           // +infinity for the initial reject-everything point
  double far = 0;                 // false_accepts / impostor_count
  double tar = 0;                 // true_accepts / genuine_count
  std::size_t false_accepts = 0;  // exact counts behind the two rates
  std::size_t true_accepts = 0;
};

// The empirical ROC: one point per distinct score value (tied scores move together, so a tie
// between genuine and impostor scores is a diagonal segment), preceded by (0, 0) at +infinity.
// Points are in decreasing threshold order, hence non-decreasing FAR and TAR; the last point is
// (1, 1) at the minimum score. Size = number of distinct scores + 1.
struct RocCurve {
  std::vector<RocPoint> points;
  std::size_t genuine_count = 0;
  std::size_t impostor_count = 0;
};

RocCurve ComputeRoc(const std::vector<double>& scores, const std::vector<bool>& genuine);

// Area under the ROC by the trapezoid rule over the exact points. Because tied scores form one
// diagonal segment this equals the Mann-Whitney probability P(genuine > impostor) +
// 0.5 P(genuine == impostor): 1 for perfect separation, 0 reversed, 0.5 when all scores tie.
// Computed from integer counts, so it is exact up to the final division.
double RocAuc(const RocCurve& roc);
double RocAuc(const std::vector<double>& scores, const std::vector<bool>& genuine);

// Equal error rate, linearly interpolated along the ROC polyline at the point where
// FAR == FRR (= 1 - TAR). `threshold` is that of the first ROC point (scanning from the highest
// threshold) with FAR >= FRR, i.e. the highest real threshold at or past the crossing.
// Perfect separation gives 0, reversed scores 1, all-tied scores 0.5.
struct EerPoint {
  double eer = 0;
  double threshold = 0;
};
EerPoint EqualErrorRate(const RocCurve& roc);

// TAR at a FAR target: among the ROC points with FAR <= target_far, the largest TAR; if several
// points share that TAR, the one with the smallest FAR (highest threshold) is reported.
// Not interpolated: `far` is the FAR actually achieved, which may be below the target. When the
// target is below 1/impostor_count the answer is the best point with zero false accepts
// (possibly TAR 0 at threshold +infinity). target_far must be in [0, 1].
struct OperatingPoint {
  double tar = 0;
  double far = 0;
  double threshold = 0;
};
OperatingPoint TarAtFar(const RocCurve& roc, double target_far);

// Decision threshold for a target FMR, from impostor scores alone (as when setting a threshold
// before any genuine data exist). Candidate thresholds are the observed impostor score values
// plus nextafter(max, +inf); the result is the smallest candidate whose impostor pass rate
// (fraction of impostor scores >= threshold) is <= target_fmr.
// Ties: impostors with equal scores pass or fail together, a tie group is never split, so the
// achieved `fmr` never exceeds the target but may fall below it (e.g. impostors
// {.1,.2,.3,.3,.4,...,.9} with target 0.7 give threshold .4 and fmr 0.6, because accepting the
// two .3s would make it 0.8). Any threshold in (next lower impostor score, threshold] has the
// same empirical FMR. If even the highest score alone exceeds the target (e.g. target 0), the
// threshold is just above the maximum and fmr is 0. target_fmr must be in [0, 1].
struct FmrThreshold {
  double threshold = 0;
  double fmr = 0;                // achieved: false_matches / impostor_count
  std::size_t false_matches = 0;
  std::size_t impostor_count = 0;
};
FmrThreshold ThresholdForFmr(const std::vector<double>& impostor_scores, double target_fmr);

// The LFW-style cross-validated verification accuracy. Folds are the distinct values of
// `folds` (10 for LFW View 2; any K >= 2 works). For each fold k: the threshold maximising
// accuracy ((accepted genuine + rejected impostors) / n) on all OTHER folds is fitted, then the
// accuracy of that threshold on fold k is measured.
// Threshold fitting: the accuracy is evaluated on every cell between consecutive distinct
// training scores; of the cells with maximal accuracy the one with the highest threshold wins,
// and the threshold is placed at the cell's midpoint ((u_j + u_{j+1}) / 2 for the cell accepting
// scores >= u_j and rejecting u_{j+1}); the lowest cell (accept all) uses the minimum score and
// the reject-all cell uses nextafter(max score, +inf).
// Summary statistics (over the K per-fold accuracies, each fold weighted equally):
//   mean       the mean accuracy (LFW's mu-hat);
//   std        the SAMPLE standard deviation, divisor K - 1 (LFW's sigma-hat);
//   std_error  std / sqrt(K), the standard error of the mean that the LFW protocol reports
//              as "mu-hat +/- S_E". Note: many papers print numpy's np.std, the POPULATION std
//              (divisor K); that is std * sqrt((K - 1) / K).
// Per-fold results are returned in ascending fold-id order.
struct FoldAccuracy {
  double mean = 0;
  double std = 0;
  double std_error = 0;
  std::vector<int> fold_ids;          // ascending
  std::vector<double> accuracies;     // per fold, aligned with fold_ids
  std::vector<double> thresholds;     // threshold fitted on the other folds, aligned
};
FoldAccuracy TenFoldAccuracy(const std::vector<double>& scores, const std::vector<bool>& genuine,
                             const std::vector<int>& folds);

// A self-contained SVG (no external fonts, scripts or styles) of the ROC: log-scale FAR axis
// from 1e-4 to 1 (FAR below 1e-4, including 0, is drawn on the left edge), linear TAR axis 0..1,
// decade and sub-decade grid lines, axis labels, the chance line, and markers for the EER point
// and for TAR@FAR=1e-3, with a legend (below the plot) giving their values and thresholds,
// the AUC and the pair counts.
// `title` is XML-escaped. Long curves are thinned to one vertex per 0.1 px.
std::string RocSvg(const RocCurve& roc, const std::string& title);

}  // namespace idm::eval
