"""What inspect skips to stay cheap gives the same answers as the full parse it replaced:
Markdown rendered without the Pygments step, PE import tables read for DLL names only, ELF
section headers read once and shared."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pefile
import pytest
import readme_renderer.markdown
from elftools.elf.elffile import ELFFile
from packaging.metadata import parse_email

from harness.checks import binfmt, metadata
from harness.wheel import BinaryKind, read_wheel

DATA = Path(__file__).parent.parent / "data"
YAPPI = sorted((DATA / "real").glob("yappi-1.7.6-*.whl"))
REAL = sorted((DATA / "real").glob("*.whl"))


def _description(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        raw, _ = parse_email(zf.read(name).decode())
    description = raw.get("description")
    assert isinstance(description, str)
    return description


YAPPI_LF = _description(next(w for w in YAPPI if "manylinux" in w.name))
YAPPI_CRLF = _description(next(w for w in YAPPI if "win_amd64" in w.name))
MARKDOWN = {
    "yappi (LF)": YAPPI_LF,
    "yappi (CRLF, as its Windows wheels carry it)": YAPPI_CRLF,
    "only a link reference definition (renders to nothing)": "[ref]: https://example.org\n",
    "only an HTML comment": "<!-- nothing to see -->\n",
    "fenced code, unknown language": "```nosuchlang\nx = 1\n```\n",
    "fenced code, python": "# T\n\n```python\ndef f():\n    return '<b>'\n```\n",
    "raw HTML that nh3 strips": '<script>alert(1)</script><p onclick="x">p</p>\n',
    "table": "| a | b |\n|---|---|\n| 1 | 2 |\n",
}


def test_yappi_descriptions_differ_only_in_line_ends() -> None:
    assert YAPPI_LF != YAPPI_CRLF
    assert YAPPI_CRLF.replace("\r\n", "\n") == YAPPI_LF


@pytest.mark.parametrize("variant", ["GFM", "CommonMark"])
@pytest.mark.parametrize("text", list(MARKDOWN.values()), ids=list(MARKDOWN))
def test_markdown_answer_is_readme_renderers(text: str, variant: str) -> None:
    full = readme_renderer.markdown.render(text, variant=variant)
    assert metadata._markdown_renders(text, variant) is (full is not None)


def test_markdown_that_renders_to_nothing_is_reported() -> None:
    empty = MARKDOWN["only a link reference definition (renders to nothing)"]
    problems = list(metadata._render(empty, "text/markdown"))
    assert problems == [("metadata.render", "long description (Markdown) would not render")]
    assert list(metadata._render(YAPPI_CRLF, "text/markdown; variant=GFM")) == []


def _pe_members() -> list[tuple[str, bytes]]:
    found = []
    for w in REAL:
        wheel = read_wheel(w)
        pes = [(m, d) for m, d in wheel.binaries() if m.binary is BinaryKind.PE]
        found += [(f"{w.name}!{m.name}", d) for m, d in pes]
    return found


PES = _pe_members()


def test_real_pe_files_are_there() -> None:
    assert len(PES) >= 25


@pytest.mark.parametrize("data", [d for _, d in PES], ids=[n for n, _ in PES])
def test_pe_dll_names_match_pefiles_full_import_parse(data: bytes) -> None:
    full = pefile.PE(data=data, fast_load=True)
    full.parse_data_directories(
        directories=[
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
        ]
    )
    names = [e.dll.decode() for e in getattr(full, "DIRECTORY_ENTRY_IMPORT", [])]
    names += [e.dll.decode() for e in getattr(full, "DIRECTORY_ENTRY_DELAY_IMPORT", [])]
    binfmt.pe_info.cache_clear()
    info = binfmt.pe_info(data)
    assert list(info.imports) == names
    assert info.import_problems == ()
    # the cheap path was the one taken: no imported symbol was parsed
    assert all(e.imports for e in full.DIRECTORY_ENTRY_IMPORT)
    assert all(e.imports == [] for e in binfmt.pe_file(data).DIRECTORY_ENTRY_IMPORT)


def test_elf_sections_are_read_once_for_every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checks import cpu

    wheel = read_wheel(next(w for w in YAPPI if "manylinux" in w.name and "x86_64" in w.name))
    (data,) = [d for m, d in wheel.binaries() if m.binary is BinaryKind.ELF]
    parses = []
    real_init = ELFFile.__init__

    def counting_init(self: ELFFile, *args: object, **kwargs: object) -> None:
        parses.append(1)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ELFFile, "__init__", counting_init)
    for fn in (binfmt.elf_file, binfmt.elf_info):
        fn.cache_clear()
    info = binfmt.elf_info(data)
    image = cpu.elf_code(data)
    symbols = binfmt.elf_symbols(data)
    functions = cpu.elf_functions(data)
    assert len(parses) == 1
    assert "libc.so.6" in info.needed
    assert image is not None
    assert image.regions
    assert any(name == "PyInit__yappi" for name, _ in symbols)
    assert any(name == "PyInit__yappi" for _, _, name in functions)
