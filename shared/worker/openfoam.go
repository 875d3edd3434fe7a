package worker

import (
	_ "embed"
	"fmt"
)

// runFunctions is a compatible $WM_PROJECT_DIR/bin/tools/RunFunctions.
//
//go:embed runfunctions.sh
var runFunctions []byte

// openFOAMSetup is the bash text, run after the env script, that gives the
// run a $WM_PROJECT_DIR/bin/tools/RunFunctions when the installation has
// none: it builds, once per run, an overlay project directory in overlay
// (run-private, writable, not an output) holding a symlink to every entry
// of the real $WM_PROJECT_DIR (OpenFOAM itself reads $WM_PROJECT_DIR/etc,
// scripts may use bin/*) and to runFunctionsFile, then points
// WM_PROJECT_DIR at it. Doing this in the run's shell rather than in Go
// means the real directory is whatever the env script says, with and
// without a sandbox, at no extra cost. An installation that ships its own
// RunFunctions is left alone.
func openFOAMSetup(overlay, runFunctionsFile string) string {
	return fmt.Sprintf(`if [ ! -f "${WM_PROJECT_DIR:-/nonexistent}/bin/tools/RunFunctions" ]; then
  __worker_of=%s
  if [ ! -e "$__worker_of/bin/tools/RunFunctions" ]; then
    mkdir -p "$__worker_of/bin/tools" || exit 1
    if [ -n "$WM_PROJECT_DIR" ] && [ -d "$WM_PROJECT_DIR" ]; then
      for __worker_e in "$WM_PROJECT_DIR"/* "$WM_PROJECT_DIR"/bin/* "$WM_PROJECT_DIR"/bin/tools/*; do
        [ -e "$__worker_e" ] || [ -L "$__worker_e" ] || continue
        __worker_r=${__worker_e#"$WM_PROJECT_DIR"/}
        case $__worker_r in bin|bin/tools) continue ;; esac
        ln -s "$__worker_e" "$__worker_of/$__worker_r" || exit 1
      done
    fi
    ln -s %s "$__worker_of/bin/tools/RunFunctions" || exit 1
  fi
  export WM_PROJECT_DIR=$__worker_of
  unset __worker_of __worker_e __worker_r
fi
`, shellQuote(overlay), shellQuote(runFunctionsFile))
}
