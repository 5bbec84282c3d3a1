#!/usr/bin/env python3
"""Prints the /usr/include headers of Boost, OpenCV, oneTBB, nlohmann/json, GoogleTest and zlib that
ganaug's build includes (from compile_commands.json; used by make_deps_bundle.sh)."""
import json, shlex, subprocess, sys, re
cc = json.load(open(sys.argv[1]))
hdrs = set()
for e in cc:
    f = e['file']
    args = shlex.split(e['command'])
    out = []
    skip = False
    for i, a in enumerate(args):
        if skip: skip = False; continue
        if a in ('-o', '-include', '-MF', '-MT'): skip = True; continue
        if a in ('-c', '-MD', '-Winvalid-pch') or a == f: continue
        out.append(a)
    out += ['-M', f]
    r = subprocess.run(out, cwd=e['directory'], capture_output=True, text=True)
    if r.returncode: print('FAIL', f, r.stderr[:300], file=sys.stderr); continue
    for tok in r.stdout.replace('\\\n', ' ').split():
        if tok.startswith('/usr/include/') and not tok.endswith(':'):
            hdrs.add(tok)
keep = [h for h in hdrs if re.match(r'/usr/include/(boost|opencv4|tbb|oneapi|nlohmann|gtest|gmock|zlib\.h|zconf\.h|x86_64-linux-gnu/zconf)', h)]
print('\n'.join(sorted(keep)))
