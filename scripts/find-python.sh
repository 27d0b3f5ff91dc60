# shellcheck shell=bash
# Sourced helper: find_python_312 prints the path of a Python interpreter that really runs, preferring
# 3.12 (the Lambda runtime), then 3.13, then python3 (with a warning on stderr).
# pyenv shims exist for every installed version but fail with "command not found" unless that version
# is active, so each candidate is executed before it is accepted.

_py_runs() {
  # $1 = interpreter, $2 = wanted "major.minor" (empty: any 3.x)
  local v
  v="$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || return 1
  [[ -z "$2" || "$v" == "$2" ]]
}

_py_candidates() {
  # $1 = "3.12" | "3.13"
  local ver="$1" root c
  if c="$(command -v "python$ver" 2>/dev/null)"; then echo "$c"; fi
  if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
    # newest patch release first
    for c in $(ls -d "$root"/versions/"$ver".*/bin/"python$ver" 2>/dev/null | sort -rV); do echo "$c"; done
  fi
  for c in "$HOME"/.pyenv/versions/"$ver".*/bin/"python$ver" /usr/local/bin/"python$ver" /usr/bin/"python$ver"; do
    [[ -e "$c" ]] && echo "$c"
  done
}

find_python_312() {
  local ver c
  for ver in 3.12 3.13; do
    while read -r c; do
      [[ -n "$c" ]] || continue
      if _py_runs "$c" "$ver"; then
        # resolve pyenv shims to the real interpreter so that callers can prepend its bin dir to PATH
        if [[ "$c" == */shims/* ]]; then
          c="$("$c" -c 'import sys; print(sys.executable)')"
        fi
        echo "$c"
        return 0
      fi
    done < <(_py_candidates "$ver")
  done
  if c="$(command -v python3 2>/dev/null)" && _py_runs "$c" ""; then
    echo "find-python: WARNING: no Python 3.12/3.13 found, falling back to $c" >&2
    "$c" -c 'import sys; print(sys.executable)'
    return 0
  fi
  return 1
}
