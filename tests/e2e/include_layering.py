#!/usr/bin/env python3
"""Fails when a capture/ source includes a capture/ folder its layer may not depend on.

The allowed dependencies are read from the layering block in docs/architecture.md (between the
`layering:begin` and `layering:end` markers), one line per folder: `folder: allowed folders...`.
Every folder under capture/ must be listed, and every `#include "folder/..."` whose first component
is a capture/ folder must name the file's own folder or one it is allowed to include (downward).
Includes of other roots (proto's "flowguard/v1/...", "framing.hpp", system headers) are not checked here.

usage: include_layering.py SOURCE_ROOT        check the tree
       include_layering.py --self-test        check that the checker catches an upward include
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def read_layers(doc_path):
    text = open(doc_path, encoding="utf-8").read()
    m = re.search(r"layering:begin[^\n]*\n(.*?)layering:end", text, re.DOTALL)
    if not m:
        raise SystemExit(f"FAIL: no layering:begin/layering:end block in {doc_path}")
    layers = {}
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line or ":" not in line or line.startswith(("```", "<!--", "-->")):
            continue
        folder, allowed = line.split(":", 1)
        layers[folder.strip()] = set(allowed.split()) | {folder.strip()}
    return layers


def check(root):
    layers = read_layers(os.path.join(root, "docs", "architecture.md"))
    capture = os.path.join(root, "capture")
    folders = {d for d in os.listdir(capture) if os.path.isdir(os.path.join(capture, d)) and d != "cmake"}
    problems = []
    for missing in sorted(folders - layers.keys()):
        problems.append(f"capture/{missing}/ is not in the layering block of docs/architecture.md")
    for unknown in sorted(layers.keys() - folders):
        problems.append(f"the layering block lists {unknown}, which is not a folder under capture/")
    checked = 0
    for folder in sorted(folders & layers.keys()):
        for dirpath, _, files in os.walk(os.path.join(capture, folder)):
            for name in sorted(files):
                if not name.endswith((".hpp", ".cpp", ".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                text = open(path, encoding="utf-8").read()
                for inc in INCLUDE.findall(text):
                    target = inc.split("/", 1)[0]
                    if "/" not in inc or target not in folders:
                        continue
                    checked += 1
                    if target not in layers[folder]:
                        rel = os.path.relpath(path, root)
                        problems.append(f'{rel}: #include "{inc}": {folder}/ may include only '
                                        f'{" ".join(sorted(layers[folder]))}')
    return problems, checked


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "docs"))
        for d in ("core", "flow"):
            os.makedirs(os.path.join(tmp, "capture", d))
        with open(os.path.join(tmp, "docs", "architecture.md"), "w") as f:
            f.write("<!-- layering:begin -->\ncore:\nflow: core\n<!-- layering:end -->\n")
        with open(os.path.join(tmp, "capture", "flow", "a.hpp"), "w") as f:
            f.write('#include "core/b.hpp"\n')
        with open(os.path.join(tmp, "capture", "core", "b.hpp"), "w") as f:
            f.write('#include "flow/a.hpp"\n#include <vector>\n#include "flowguard/v1/x.pb.h"\n')
        problems, checked = check(tmp)
        if checked != 2 or len(problems) != 1 or "capture/core/b.hpp" not in problems[0]:
            print("FAIL: self-test expected exactly the upward include core -> flow, got:", problems)
            return 1
        os.makedirs(os.path.join(tmp, "capture", "extra"))
        problems, _ = check(tmp)
        if not any("capture/extra/ is not in the layering block" in p for p in problems):
            print("FAIL: self-test expected an unlisted folder to be reported, got:", problems)
            return 1
    print("ok: self-test caught an upward include and an unlisted folder")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__)
        return 2
    problems, checked = check(argv[1])
    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print(f"ok: {checked} includes between capture/ folders all point downward")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
