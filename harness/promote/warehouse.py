"""What PyPI (warehouse) refuses that only the index can tell, asked before any upload.

warehouse/forklift/legacy.py, ``file_upload``, in the order it decides:

1. the same file name with the same content (sha256 and blake2) is answered 200 and not
   stored again: already present, nothing to do, whatever the release's age (PR 20260);
2. a file name already used with other content, *or the same content under another file
   name* (``_is_duplicate_file`` matches on the name or the blake2 digest), is refused with
   "File already exists";
3. a file name that was used by a since-deleted file is refused ("This filename was
   previously used ..."): deleted files are not listed, so this one cannot be seen up front;
4. a file added to a release whose ``Release.created`` (the upload of its first file) is
   more than 14 days ago is refused: "Uploading new files to releases older than 14 days is
   not allowed" (PR 19727, warehouse/constants.py ``MAXIMUM_AGE_FOR_NEW_UPLOADS``, since
   July 2026). It is the age of the *release*, not of its newest file: a wheel built late for
   a new platform cannot join a release older than two weeks.

From the project's PEP 691 page the harness knows every listed file's sha256 and (PEP 700)
upload time, so rules 2 and 4 are refused before anything is sent. The oldest listed file
of the version is taken as the release's creation; if the first files were deleted the
release is older still, so a refusal is never wrong, but a release whose files were all
deleted looks new.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from harness.simple_index import Listed

MAX_RELEASE_AGE = timedelta(days=14)


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist file name belongs to, or None for anything else."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def release_created(listing: Mapping[str, Listed], version: Version) -> datetime | None:
    """When the index says the release was created: its oldest listed file's upload time
    (None when no file of it is listed with one)."""
    times = [
        f.upload_time
        for f in listing.values()
        if f.upload_time is not None and file_version(f.filename) == version
    ]
    return min(times) if times else None


def refusals(
    filename: str, sha256: str, listing: Mapping[str, Listed], *, now: datetime
) -> list[str]:
    """Why warehouse will refuse a new file ``filename`` with this content (the caller has
    already settled that the name is not listed with the same or other content)."""
    reasons: list[str] = []
    twins = sorted(
        f.filename
        for f in listing.values()
        if f.filename != filename and f.hashes.get("sha256") == sha256
    )
    if twins:
        reasons.append(
            f"the same bytes are already there as {twins[0]}: PyPI refuses a file whose "
            "content it already has under another name ('File already exists')"
        )
    version = file_version(filename)
    created = release_created(listing, version) if version is not None else None
    if created is not None and now - created > MAX_RELEASE_AGE:
        days = (now - created).days
        reasons.append(
            f"release {version} was created {created:%Y-%m-%d} ({days} days ago, its oldest "
            f"file there): PyPI refuses new files in a release older than "
            f"{MAX_RELEASE_AGE.days} days; publish them in a new version"
        )
    return reasons
