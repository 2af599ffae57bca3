"""After `sam build`: every function of the template has an executable `bootstrap` that is a 64-bit
little-endian ELF for AArch64 (what `Architectures: [arm64]` + `provided.al2023` run). Reads the ELF header
itself: `file` is not installed everywhere.

usage: python3 check_bootstraps.py TEMPLATE BUILD_DIR
"""

import os
import struct
import sys

import invariants

EM_AARCH64 = 183
ET_EXEC, ET_DYN = 2, 3


def elf_problem(path):
    """None if `path` is an AArch64 executable, else why not."""
    if not os.path.isfile(path):
        return "missing"
    if not os.access(path, os.X_OK):
        return "not executable"
    with open(path, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return "not an ELF file"
    if header[4] != 2 or header[5] != 1:
        return f"not a 64-bit little-endian ELF (class {header[4]}, data {header[5]})"
    e_type, e_machine = struct.unpack_from("<HH", header, 16)
    if e_type not in (ET_EXEC, ET_DYN):
        return f"not an executable (e_type {e_type})"
    if e_machine != EM_AARCH64:
        return f"built for machine {e_machine}, not AArch64 ({EM_AARCH64})"
    return None


def main(template_path, build_dir):
    template = invariants.load(template_path)
    problems = []
    for name in sorted(invariants.functions(template)):
        path = os.path.join(build_dir, name, "bootstrap")
        problem = elf_problem(path)
        if problem:
            problems.append(f"{path}: {problem}")
        else:
            print(f"ok  {path}: AArch64 ELF, {os.path.getsize(path) / 1e6:.1f} MB")
    for problem in problems:
        print(f"BAD {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
