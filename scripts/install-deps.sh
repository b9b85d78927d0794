#!/usr/bin/env bash
# Installs what idmatch needs and is missing: Debian packages (apt-get, only when absent) and the
# pinned npm model packages (npm ci against models/package-lock.json). Nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  build-essential cmake pkg-config
  libxnnpack-dev libpthreadpool-dev   # NN kernels
  libopencv-dev                       # image decode, geometry
  libsodium-dev                       # zeroisation, hashing, signatures
  nlohmann-json3-dev                  # model.json
  libgtest-dev libgmock-dev libbenchmark-dev
  time                                # peak RSS in make bench
  libcpp-httplib-dev libssl-dev       # the HTTPS service
  libsqlite3-dev                      # the audit log
  tesseract-ocr tesseract-ocr-eng libtesseract-dev libleptonica-dev  # MRZ OCR
  libzxing-dev                        # QR codes on residence cards
  strace                              # zero-retention test: no file written but the audit log
  openssl                             # TLS test: a self-signed certificate
  clang-14 libclang-rt-14-dev         # libFuzzer targets (make fuzz)
  chromium fonts-noto-cjk fonts-thai-tlwg  # the capture page's end-to-end test (Hangul, CJK, Thai)
  fonts-nanum                         # Hangul on generated specimen cards (tools/cardgen)
  fonts-ocr-b                         # OCR-B: cardgen's MRZs, and the MRZ templates (cardgen --ocrb-glyphs)
)
# Node and npm run `npm ci` for the models and the peer benchmark. A machine may already have
# them from elsewhere (npm bundled with Node): install Debian's only when the commands are missing.
command -v node >/dev/null 2>&1 || DEB_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || DEB_PACKAGES+=(npm)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages, each pinned by a lockfile: `npm ci` only when the lockfile changed since the
# last install (a stamp in node_modules remembers it).
npm_ci() {  # npm_ci DIR WHAT
  local stamp=$1/node_modules/.idmatch-lock.sha256 want
  want=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing $2 (npm ci in $1/)"
    (cd "$1" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci models "the pinned models"
npm_ci tests/js "jose, the independent receipt verifier of the tests"
# playwright-core and axe-core for the capture page's end-to-end test (no browser download:
# Debian's chromium is driven).
npm_ci tests/e2e "the end-to-end test tools"

# Every model file the engine loads must be the exact version its results were measured with.
(cd models/node_modules/@vladmandic && sha256sum --quiet -c ../../SHA256SUMS) || {
  echo "model files differ from models/SHA256SUMS: reinstall with 'rm -rf models/node_modules && make deps'" >&2
  exit 1
}
