"""Make the HTML that ``asv publish`` writes viewable without internet.

asv's pages load jQuery, flot (and its plugins), stupidtable, blueimp-md5 and Bootstrap from public CDNs; a
machine that cannot reach them shows an empty page. This rewrites every such ``<script>``/``<link>`` of the
published pages to a local copy under ``vendor/``, taken from the same library's npm package (``npm pack``,
cached in ``.asv/vendor``), and drops the CDN integrity attributes, which name the CDN's bytes.

Usage (after ``asv publish``)::

    python -m benchmarks.offline_html [HTML_DIR]    # default: .asv/html

A CDN address it does not know makes it fail, naming the address: a newer asv that loads another library
needs a line in :data:`CDN_TO_NPM`, never a silently broken page.

Not a benchmark module: asv imports it while discovering benchmarks and finds nothing to run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]

#: CDN address -> (npm package spec, file inside the package, extra folders to copy beside it).
#: stupidtable 1.0.1 is not on npm; 1.1.3 is the same plugin with the same $.fn.stupidtable API.
CDN_TO_NPM: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js":
        ("flot@0.8.3", "jquery.flot.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        ("flot@0.8.3", "jquery.flot.time.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot@0.8.3", "jquery.flot.selection.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot@0.8.3", "jquery.flot.categories.js", ()),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "stupidtable.min.js", ()),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5@2.19.0", "js/md5.min.js", ()),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap@3.1.1", "dist/js/bootstrap.min.js", ()),
    # The stylesheet loads its glyph fonts from ../fonts/.
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "dist/css/bootstrap.min.css", ("dist/fonts",)),
}

_TAG = re.compile(r"<(script|link)\b[^>]*?\b(src|href)=\"(https?://[^\"]+)\"[^>]*>", re.IGNORECASE)
_CDN_ATTRS = re.compile(r"\s+(integrity|crossorigin|referrerpolicy)=\"[^\"]*\"", re.IGNORECASE)


class OfflineError(RuntimeError):
    """The page loads something that cannot be made local."""


def _tarball(spec: str, cache: Path) -> Path:
    name, version = spec.rsplit("@", 1)
    path = cache / f"{name.replace('/', '-').lstrip('@')}-{version}.tgz"
    if path.exists():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise OfflineError(
            f"npm is needed once to fetch {spec} (then cached in {cache}); install Node.js, or put the "
            f"package's tarball at {path}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "pack", "--silent", spec, "--pack-destination", str(cache)], check=True,
                   stdout=subprocess.DEVNULL)
    if not path.exists():
        raise OfflineError(f"`npm pack {spec}` did not write {path}")
    return path


def _extract(tarball: Path, member: str, extra: Tuple[str, ...], dest: Path) -> None:
    wanted = "package/" + member
    prefixes = tuple("package/" + folder.rstrip("/") + "/" for folder in extra)
    with tarfile.open(tarball) as tar:
        found = False
        for info in tar.getmembers():
            if not info.isfile():
                continue
            if info.name == wanted or info.name.startswith(prefixes):
                target = dest / info.name[len("package/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(info) as src, open(target, "wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, out)
                found = found or info.name == wanted
        if not found:
            raise OfflineError(f"{tarball.name} has no {member}")


def make_offline(html_dir: Path, cache: Optional[Path] = None) -> List[str]:
    """Rewrite the pages in ``html_dir`` to load local copies; returns the addresses replaced."""
    cache = cache or ROOT / ".asv" / "vendor"
    vendor = html_dir / "vendor"
    replaced: List[str] = []
    pages = sorted(html_dir.glob("*.html"))
    if not pages:
        raise OfflineError(f"no HTML pages in {html_dir}: run `asv publish` first")
    for page in pages:
        text = page.read_text(encoding="utf-8")

        def local(match: "re.Match[str]") -> str:
            url = match.group(3)
            try:
                spec, member, extra = CDN_TO_NPM[url]
            except KeyError:
                raise OfflineError(
                    f"{page.name} loads {url}, which has no local copy: add it to CDN_TO_NPM in {__file__}"  # noqa: B023 - called in this iteration only
                ) from None
            dest = vendor / spec.replace("@", "-").lstrip("-")
            if not (dest / member).exists():
                _extract(_tarball(spec, cache), member, extra, dest)
            replaced.append(url)
            rel = (dest / member).relative_to(html_dir).as_posix()
            tag = match.group(0).replace(url, rel)
            return _CDN_ATTRS.sub("", tag)

        new = _TAG.sub(local, text)
        if new != text:
            page.write_text(new, encoding="utf-8")
    return replaced


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    html_dir = Path(args[0]) if args else ROOT / ".asv" / "html"
    try:
        replaced = make_offline(html_dir)
    except OfflineError as exc:
        print(f"offline_html: {exc}", file=sys.stderr)
        return 1
    print(f"offline_html: {len(replaced)} CDN references in {html_dir} now load from {html_dir / 'vendor'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
