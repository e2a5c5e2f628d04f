# shellcheck shell=bash
# npm packages the tests need. Source this file, then call the functions.

# GitHub's OpenAPI description (npm @octokit/openapi, ~28 MB download, ~385 MB unpacked), against
# which the tests validate every exchange with the GitHub stand-in. Installed once into
# $OCTOKIT_DIR (outside the work tree, kept between runs on the same machine); exports
# SRE_OCTOKIT_OPENAPI, the path the tests read.
OCTOKIT_OPENAPI_VERSION=${OCTOKIT_OPENAPI_VERSION:-23.0.2}
install_octokit_openapi() {
  local dir=${OCTOKIT_DIR:-$HOME/.cache/sre-space/octokit}
  local spec=$dir/node_modules/@octokit/openapi/generated/api.github.com.json
  local have
  have=$(node -p "require('$dir/node_modules/@octokit/openapi/package.json').version" 2>/dev/null || true)
  if [[ ! -s $spec || $have != "$OCTOKIT_OPENAPI_VERSION" ]]; then
    command -v npm >/dev/null 2>&1 || { echo "npm is missing (apt-get install npm)" >&2; return 1; }
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
      "@octokit/openapi@$OCTOKIT_OPENAPI_VERSION" >/dev/null || return 1
  fi
  [[ -s $spec ]] || { echo "@octokit/openapi installed but $spec is missing" >&2; return 1; }
  export SRE_OCTOKIT_OPENAPI=$spec
}
