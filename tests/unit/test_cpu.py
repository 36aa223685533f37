"""cpu.isa on the compiled CPU test wheels and real yappi; the `cpu` matrix key; the SIGILL
reason of a smoke step (parsing what the in-env hook prints)."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import zipfile
from pathlib import Path

import pytest

from harness import matrix
from harness.checks import cpu
from harness.envs import cpumodel
from harness.envs.base import EnvKind, EnvSpec
from harness.errors import InputError
from harness.findings import Severity
from harness.inspect import inspect_wheel

DATA = Path(__file__).parent.parent / "data"
CPU = json.loads((DATA / "cpu" / "manifest.json").read_text())["wheels"]
REAL = sorted((DATA / "real").glob("yappi-1.7.6-*.whl"))


def isa_findings(path: Path) -> list[cpu.Finding]:
    return [f for f in inspect_wheel(path).findings if f.code == "cpu.isa"]


@pytest.mark.parametrize("entry", CPU, ids=lambda e: e["id"])
def test_cpu_wheels_get_the_warning_with_the_function(entry: dict[str, object]) -> None:
    found = isa_findings(DATA / "cpu" / str(entry["file"]))
    assert [f.severity for f in found] == [Severity.WARNING]
    ev = found[0].evidence
    expected = {
        "avx2-at-import": ("AVX2", "x86-64-v3", "sum_x3"),
        "avx2-dispatch": ("AVX2", "x86-64-v3", "sum_x3_avx2"),
        "lse-at-import": ("LSE atomics", "armv8.1", "PyInit_cpu_lse"),
        "lse-dispatch": ("LSE atomics", "armv8.1", "__aarch64_ldadd4_acq_rel"),
    }[str(entry["id"])]
    assert (ev["highest"], ev["level"]) == expected[:2]
    assert list(ev["functions"][expected[0]]) == [expected[2]]
    assert ev["baseline"] == ("x86-64-v1" if entry["arch"] == "x86_64" else "armv8.0")
    assert expected[2] in found[0].message


def test_same_binary_under_a_tag_that_allows_it_is_not_flagged() -> None:
    # macOS arm64 promises an Apple M1 (ARMv8.4+): LSE is fine there, SVE would not be
    image = cpu.CodeImage(
        family=cpu.Family.AARCH64,
        regions=((0x1000, bytes.fromhex("2000e0b8")),),  # ldaddal w0, w0, [x1]
    )
    result = cpu.scan(image)
    assert [u.feature.name for u in result.uses] == ["LSE atomics"]
    assert result.uses[0].addresses == [0x1000]
    macos = cpu.baseline_of(cpu.parse_platform("macosx_11_0_arm64"))
    linux = cpu.baseline_of(cpu.parse_platform("manylinux_2_17_aarch64"))
    assert macos is not None
    assert linux is not None
    assert result.uses[0].feature.level <= macos[1]
    assert result.uses[0].feature.level > linux[1]


@pytest.mark.parametrize(
    ("hex_code", "family", "feature"),
    [
        ("c5fdfec3", cpu.Family.X86_64, "AVX2"),  # vpaddd ymm0, ymm0, ymm3
        ("c5f9fec3", cpu.Family.X86_64, "AVX"),  # vpaddd xmm0, xmm0, xmm3 (AVX1)
        ("62f17d48fec3", cpu.Family.X86_64, "AVX-512"),  # vpaddd zmm0, zmm0, zmm3
        # EVEX-only on xmm0-15, no mask: AVX-512 by its encoding (was reported as AVX)
        ("62f2fd0840c2", cpu.Family.X86_64, "AVX-512"),  # vpmullq xmm0, xmm0, xmm2
        ("62f1fe08e6c0", cpu.Family.I686, "AVX-512"),  # vcvtqq2pd xmm0, xmm0 (MSVC __ltod3)
        ("f30fbdc0", cpu.Family.X86_64, "LZCNT"),  # lzcnt eax, eax
        ("f3480fb8c0", cpu.Family.X86_64, "POPCNT"),  # popcnt rax, rax
        ("660f3840c1", cpu.Family.X86_64, "SSE4.1"),  # pmulld xmm0, xmm1
        ("c4e2f9a8c1", cpu.Family.X86_64, "FMA"),  # vfmadd213pd xmm0, xmm0, xmm1
        ("c4e2f3f6c0", cpu.Family.X86_64, "BMI2"),  # mulx rax, rcx, rax
        ("04002004", cpu.Family.AARCH64, "SVE"),  # add z4.b, z0.b, z0.b
        ("2084826e", cpu.Family.AARCH64, "RDM"),  # sqrdmlah v0.4s, v1.4s, v2.4s
        ("2094824e", cpu.Family.AARCH64, "DotProd"),  # sdot v0.4s, v1.16b, v2.16b
        ("20e0a24f", cpu.Family.AARCH64, "DotProd"),  # sdot v0.4s, v1.16b, v2.4b[1]
        ("20d0a26f", cpu.Family.AARCH64, "RDM"),  # sqrdmlah v0.4s, v1.4s, v2.s[1]
        ("20c0bfb8", cpu.Family.AARCH64, "RCpc (LDAPR)"),  # ldapr w0, [x1]
        ("41fce088", cpu.Family.AARCH64, "LSE atomics"),  # casal w0, w1, [x2]
        ("82fc6048", cpu.Family.AARCH64, "LSE atomics"),  # caspal x0, x1, x2, x3, [x4]
        ("4180e0b8", cpu.Family.AARCH64, "LSE atomics"),  # swpal w0, w1, [x2]
        ("3f0020b8", cpu.Family.AARCH64, "LSE atomics"),  # stadd w0, [x1]
        ("e0e39825", cpu.Family.AARCH64, "SVE"),  # ptrue p0.s
        ("00a040a5", cpu.Family.AARCH64, "SVE"),  # ld1w {z0.s}, p0/z, [x0]
    ],
)
def test_classification(hex_code: str, family: cpu.Family, feature: str) -> None:
    result = cpu.scan(cpu.CodeImage(family=family, regions=((0, bytes.fromhex(hex_code)),)))
    assert [u.feature.name for u in result.uses] == [feature]


def test_aarch64_prefilter_regex_is_the_word_test() -> None:
    # random words (a candidate every ~13 words) over several regex chunks, and a tail
    # that is not a whole word
    rnd = random.Random(7)
    words = [rnd.getrandbits(32) for _ in range(3 * cpu._ARM_CHUNK // 4 + 123)]
    code = b"".join(w.to_bytes(4, "little") for w in words) + b"\x20\x00"
    expected = [4 * i for i, w in enumerate(words) if cpu._arm_candidate(w)]
    assert len(expected) > 1000
    assert list(cpu.arm_candidate_offsets(code)) == expected
    # a candidate as the very last word of a chunk, and none at all
    last = bytes(cpu._ARM_CHUNK - 4) + bytes.fromhex("2000e0b8")  # ldaddal w0, w0, [x1]
    assert list(cpu.arm_candidate_offsets(last + bytes(8))) == [cpu._ARM_CHUNK - 4]
    assert list(cpu.arm_candidate_offsets(bytes(4 * cpu._ARM_CHUNK))) == []


def test_baseline_code_is_not_flagged() -> None:
    # push rbp; mov rbp, rsp; movdqa xmm0, [rdi]; paddd xmm0, xmm1 (SSE2); pop rbp; ret;
    # tzcnt eax, eax: `rep bsf`, which runs as bsf on a CPU without BMI1 (no SIGILL)
    code = bytes.fromhex("554889e5660f6f07660ffec15dc3f30fbcc0")
    assert cpu.scan(cpu.CodeImage(family=cpu.Family.X86_64, regions=((0, code),))).uses == ()
    # ldxr, ldaxp (the ARMv8.0 atomics) and NEON
    arm = bytes.fromhex("017c5f88") + bytes.fromhex("40847fc8") + bytes.fromhex("0084a14e")
    assert cpu.scan(cpu.CodeImage(family=cpu.Family.AARCH64, regions=((0, arm),))).uses == ()


def test_scan_cap_is_reported() -> None:
    code = bytes.fromhex("c5fdfec3") * 1024
    image = cpu.CodeImage(family=cpu.Family.X86_64, regions=((0, code),))
    result = cpu.scan(image, max_bytes=64)
    assert (result.scanned, result.total) == (64, 4096)
    assert result.uses[0].count == 16


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_yappi_wheels_are_within_their_baseline(path: Path) -> None:
    found = isa_findings(path)
    if path.name.endswith("-win32.whl"):
        # x86 PE files have no function table: said as an info, never guessed at
        (info,) = found
        assert info.severity is Severity.INFO
        assert info.evidence["scanned"] == 0
        assert "no function table" in info.message
    else:
        assert found == []


# ---------------------------------------------------------------- PE files

PE = json.loads((DATA / "cpu" / "manifest.json").read_text())["pe"]


@pytest.mark.parametrize("entry", PE, ids=lambda e: e["id"])
def test_pe_wheels_built_here(entry: dict[str, object]) -> None:
    found = isa_findings(DATA / "cpu" / str(entry["file"]))
    if not entry["isa"]:
        assert found == []
        return
    (warn,) = found
    assert warn.severity is Severity.WARNING
    assert warn.evidence["features"] == sorted(entry["isa"])  # type: ignore[call-overload]
    assert warn.evidence["highest"] == "AVX2"
    # named by its export, from the function table (.pdata), not "PyInit_cpu_pe"
    assert list(warn.evidence["functions"]["AVX2"]) == [entry["function"]]


def _pe_member(wheel: Path, pattern: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if re.search(pattern, n)]
        return zf.read(name)


def test_msvc_outline_atomics_are_runtime_dispatched() -> None:
    # yappi's win_arm64 .pyd: MSVC's /forceInterlockedFunctions helpers hold casal/swpal
    # behind a test of the CPU-feature flag the runtime sets; a sweep of the same functions
    # that ignores this finds them
    wheel = next(p for p in REAL if p.name.endswith("-cp312-cp312-win_arm64.whl"))
    code = cpu.pe_code(_pe_member(wheel, r"\.pyd$"))
    assert code.image is not None
    assert code.image.functions_only
    assert cpu.scan(code.image).uses == ()
    swept = cpu.scan(dataclasses.replace(code.image, functions_only=False))
    assert [u.feature.name for u in swept.uses] == ["LSE atomics"]
    helpers = {cpu.function_at(code.image.functions(), [f[0] for f in code.image.functions()], a)
               for a in swept.uses[0].addresses}  # fmt: skip
    assert helpers == {"function at RVA 0x1050", "function at RVA 0x1090"}


def test_arm64_data_inside_a_function_is_not_code() -> None:
    # ret, then a jump-table/literal word that decodes as SVE (add z4.b, z0.b, z0.b): MSVC
    # keeps such data inside arm64 functions; only code the entry reaches counts
    code = bytes.fromhex("c0035fd6" + "04002004")
    fn = cpu.CodeImage(family=cpu.Family.AARCH64, regions=((0x1000, code),), functions_only=True)
    assert cpu.scan(fn).uses == ()
    sweep = dataclasses.replace(fn, functions_only=False)
    assert [u.feature.name for u in cpu.scan(sweep).uses] == ["SVE"]
    # reached through a branch, the same word is code
    branch = bytes.fromhex("02000014" + "c0035fd6" + "04002004")  # b #8; ret; add z4.b...
    reached = cpu.CodeImage(family=cpu.Family.AARCH64, regions=((0, branch),), functions_only=True)
    assert [u.feature.name for u in cpu.scan(reached).uses] == ["SVE"]


def test_msvc_vectorizer_isa_dispatch() -> None:
    # Blackfire's win_amd64 .pyd: MSVC vectorized a loop with pmulld (SSE4.1) behind
    # `cmp r14d, 2; jl scalar`, r14d loaded from __isa_available, the global its cpuid
    # routine (__isa_available_init) writes
    wheel = DATA / "real" / "blackfire-2026.10.0-cp311-cp311-win_amd64.whl"
    code = cpu.pe_code(_pe_member(wheel, r"\.pyd$"))
    assert code.image is not None
    swept = cpu.scan(dataclasses.replace(code.image, functions_only=False))
    assert [u.feature.name for u in swept.uses] == ["SSE4.1"]
    assert cpu.scan(code.image).uses == ()
    assert isa_findings(wheel) == []


def test_x64_flag_tested_helper_is_dispatch() -> None:
    # cmp byte ptr [rip + 0x100], 0; je +5; vpaddd ymm0, ymm0, ymm3; ret
    helper = bytes.fromhex("803d0001000000" + "7405" + "c5fdfec3" + "c3")
    image = cpu.CodeImage(family=cpu.Family.X86_64, regions=((0, helper),), functions_only=True)
    assert cpu.scan(image).uses == ()
    # without the test it runs unconditionally
    plain = bytes.fromhex("c5fdfec3" + "c3")
    image = cpu.CodeImage(family=cpu.Family.X86_64, regions=((0, plain),), functions_only=True)
    assert [u.feature.name for u in cpu.scan(image).uses] == ["AVX2"]


@pytest.mark.parametrize(
    ("rva", "size"),
    [(0x7FFFFFF0, 0xFFFFFFF0), (0x1000, 0xFFFFFFF0), (0, 12), (0xA000, 7)],
    ids=["outside-the-file", "huge", "no-rva", "shorter-than-an-entry"],
)
def test_hostile_exception_directory(tmp_path: Path, rva: int, size: int) -> None:
    # yappi's win_amd64 module with its exception directory entry rewritten: a finding or
    # nothing, never a crashed check
    import struct

    import pefile

    wheel = next(p for p in REAL if p.name.endswith("-cp312-cp312-win_amd64.whl"))
    pyd = bytearray(_pe_member(wheel, r"\.pyd$"))
    pe = pefile.PE(data=bytes(pyd), fast_load=True)
    entry = pe.OPTIONAL_HEADER.DATA_DIRECTORY[3].get_file_offset()
    struct.pack_into("<II", pyd, entry, rva, size)
    bad = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, bytes(pyd) if info.filename.endswith(".pyd") else body)
    findings = inspect_wheel(bad).findings
    assert "harness.check-crashed" not in {f.code for f in findings}
    assert [f for f in findings if f.code == "cpu.isa" and f.severity is not Severity.INFO] == []


def test_microsofts_runtime_dlls_are_not_scanned() -> None:
    # ujson's PyPy wheel vendors vcruntime140 (delvewheel's name-<hash>.dll): its memcpy
    # picks AVX/AVX-512 by __isa_available; Microsoft's file, not the wheel's code
    wheel = DATA / "real" / "ujson-6.1.0-pp311-pypy311_pp80-win_amd64.whl"
    runtime = cpu.pe_code(_pe_member(wheel, r"/vcruntime140-[0-9a-f]+\.dll$"))
    assert runtime.image is not None
    assert "AVX-512" in {u.feature.name for u in cpu.scan(runtime.image).uses}
    assert isa_findings(wheel) == []


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu.DISABLE_ENV, "1")
    assert isa_findings(DATA / "cpu" / str(CPU[0]["file"])) == []


# ---------------------------------------------------------------- the cpu matrix key


def test_cpu_key_is_validated(tmp_path: Path) -> None:
    ok = tmp_path / "ok.toml"
    ok.write_text(
        '[env.b]\nkind = "docker-recipe"\nrecipe = "debian-bookworm-amd64"\ncpu = "x86-64-v2"\n'
    )
    (env,) = matrix.load(str(ok), tmp_path).envs
    assert env.cpu == "x86-64-v2"
    bad = tmp_path / "bad.toml"
    bad.write_text('[env.b]\nkind = "docker-recipe"\nrecipe = "r"\ncpu = "pentium"\n')
    with pytest.raises(InputError, match=r"bad\.toml: env\.b\.cpu: 'pentium' is not one of"):
        matrix.load(str(bad), tmp_path)
    host = tmp_path / "host.toml"
    host.write_text('[env.h]\nkind = "host"\ncpu = "armv8.0"\n')
    with pytest.raises(InputError, match=r"env\.h\.cpu: not allowed for kind host"):
        matrix.load(str(host), tmp_path)


def test_baseline_matrix_is_in_nightly() -> None:
    base = Path(__file__).resolve().parents[2] / "matrices"
    cpus = {e.name: e.cpu for e in matrix.load("baseline", base).envs}
    assert cpus == {"baseline-x86-64": "x86-64-v1", "baseline-armv8": "armv8.0"}
    assert set(cpus) <= {e.name for e in matrix.load("nightly", base).envs}


# ---------------------------------------------------------------- the SIGILL reason

SPEC = EnvSpec(name="b", kind=EnvKind.DOCKER_RECIPE, recipe="r", cpu="x86-64-v1")
AVX2_WHEEL = DATA / "cpu" / "avx2-at-import" / "cpu_avx2-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"


def _fault_bytes() -> bytes:
    """16 bytes of the wheel's .so starting at its first AVX2 instruction (as the hook reads)."""
    with zipfile.ZipFile(AVX2_WHEEL) as zf:
        data = next(zf.read(n) for n in zf.namelist() if n.endswith(".so"))
    image = cpu.elf_code(data)
    assert image is not None
    use = next(u for u in cpu.scan(image).uses if u.feature.name == "AVX2")
    addr = use.addresses[0]
    for base, code in image.regions:
        if base <= addr < base + len(code):
            return code[addr - base : addr - base + 16]
    raise AssertionError("no region")


def test_sigill_reason_names_instruction_function_and_library() -> None:
    code = _fault_bytes()
    out = (
        f"ok   import x\nHARNESS-SIGILL addr=274892906777\n"
        f"HARNESS-SIGILL addr=274892906777 bytes={code.hex()}\n"
        "qemu: uncaught target signal 4 (Illegal instruction) - core dumped\n"
    )
    got = cpumodel.sigill_reason(SPEC, 132, out, machine="x86_64", wheel=AVX2_WHEEL)
    assert got is not None
    reason, detail = got
    assert reason.startswith(
        "illegal instruction on x86-64-v1 (qemu64): the wheel needs a newer CPU than its tag "
        "promises: vp"
    )
    assert "ymm" in reason
    assert "in sum_x3 (cpu_avx2.cpython-311-x86_64-linux-gnu.so+0x" in reason
    assert detail["function"] == "sum_x3"
    assert detail["address"] == 274892906777


def test_sigill_reason_without_the_hook_and_other_failures() -> None:
    got = cpumodel.sigill_reason(SPEC, 132, "Illegal instruction\n", machine="x86_64", wheel=None)
    assert got is not None
    assert got[0] == (
        "illegal instruction on x86-64-v1 (qemu64): the wheel needs a newer CPU than its tag "
        "promises"
    )
    native = EnvSpec(name="n", kind=EnvKind.DOCKER_RECIPE, recipe="r")
    got = cpumodel.sigill_reason(native, -4, "", machine="x86_64", wheel=None)
    assert got is not None
    assert got[0].startswith("illegal instruction on this machine's x86_64 CPU")
    assert cpumodel.sigill_reason(SPEC, 1, "FAIL import x", machine="x86_64", wheel=None) is None
    assert cpumodel.sigill_reason(SPEC, 139, "segfault", machine="x86_64", wheel=None) is None
    # hostile output: a marker with garbage is ignored, never raises
    junk = (
        "HARNESS-SIGILL addr=12\nHARNESS-SIGILL addr=13 bytes=zz\nHARNESS-SIGILL addr=x\n"
        f"HARNESS-SIGILL addr={'9' * 100_000}\n"
    )
    got = cpumodel.sigill_reason(SPEC, 132, junk, machine="x86_64", wheel=AVX2_WHEEL)
    assert got is not None
    assert got[1]["address"] == 12
    assert "bytes" not in got[1]
