"""Volumes: governed folders of files; paths can never step outside the volume."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glashaus.errors import InvalidArgumentError, NotFoundError

V = "main.shop.files"


@pytest.fixture
def vol(shop):
    shop.create_volume(V, comment="plant pictures")
    return shop


def paths(lh, prefix=""):
    return [f.path for f in lh.list_files(V, prefix)]


def test_put_get_list_delete(vol):
    info = vol.put_file(V, "plants/monstera.jpg", b"\x89PNG...")
    assert (info.path, info.size) == ("plants/monstera.jpg", 7)
    vol.put_file(V, "readme.txt", b"hello")
    vol.put_file(V, "plants/deep/ficus.jpg", b"")
    assert vol.get_file(V, "plants/monstera.jpg") == b"\x89PNG..."
    assert vol.get_file(V, "plants/deep/ficus.jpg") == b""
    assert paths(vol) == ["plants/deep/ficus.jpg", "plants/monstera.jpg", "readme.txt"]
    assert paths(vol, "plants") == ["plants/deep/ficus.jpg", "plants/monstera.jpg"]
    assert paths(vol, "plants/deep") == ["plants/deep/ficus.jpg"]
    assert paths(vol, "nothing/here") == []
    listed = {f.path: f for f in vol.list_files(V)}
    assert listed["readme.txt"].size == 5 and listed["readme.txt"].modified
    vol.delete_file(V, "readme.txt")
    assert paths(vol) == ["plants/deep/ficus.jpg", "plants/monstera.jpg"]


def test_files_live_inside_the_volume_folder(vol):
    vol.put_file(V, "a/b.txt", b"x")
    location = vol.get(V).storage_location
    assert location.startswith(vol.root + "/volumes/main/shop/files-")
    assert Path(location, "a", "b.txt").read_bytes() == b"x"
    assert not [n for n in os.listdir(os.path.join(location, "a")) if n.endswith(".tmp")]  # no leftovers


def test_overwrite(vol):
    vol.put_file(V, "a.txt", b"one")
    vol.put_file(V, "a.txt", b"two")
    assert vol.get_file(V, "a.txt") == b"two"
    with pytest.raises(InvalidArgumentError) as err:
        vol.put_file(V, "a.txt", b"three", overwrite=False)
    assert "main.shop.files/a.txt exists already" in str(err.value) and "overwrite=True" in str(err.value)
    assert vol.get_file(V, "a.txt") == b"two"


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../x", "may not contain empty, '.' or '..' parts"),
        ("a/../../x", "may not contain empty, '.' or '..' parts"),
        ("..", "may not contain empty, '.' or '..' parts"),
        ("./a", "may not contain empty, '.' or '..' parts"),
        ("a//b", "may not contain empty, '.' or '..' parts"),
        ("a/", "may not contain empty, '.' or '..' parts"),
        ("/etc/passwd", "must be relative, with forward slashes"),
        ("a\\b", "must be relative, with forward slashes"),
        ("..\\..\\x", "must be relative, with forward slashes"),
        ("a\x00b", "must be relative, with forward slashes"),
        ("", "may not be empty"),
        ("/", "may not be empty"),
    ],
)
def test_path_traversal_is_refused_everywhere(vol, path, fragment):
    vol.put_file(V, "ok.txt", b"ok")
    for call in (
        lambda: vol.put_file(V, path, b"evil"),
        lambda: vol.get_file(V, path),
        lambda: vol.delete_file(V, path),
    ):
        with pytest.raises(InvalidArgumentError) as err:
            call()
        assert fragment in str(err.value)
        assert repr(path) in str(err.value) or "empty" in fragment
    if path not in ("", "/"):
        with pytest.raises(InvalidArgumentError):
            vol.list_files(V, path)
    assert paths(vol) == ["ok.txt"]
    assert not os.path.exists(os.path.join(vol.root, "x"))


def test_missing_files_are_not_found(vol):
    with pytest.raises(NotFoundError) as err:
        vol.get_file(V, "nope.txt")
    assert "'nope.txt' does not exist in volume main.shop.files" in str(err.value)
    with pytest.raises(NotFoundError, match=r"'nope.txt' does not exist in volume main.shop.files"):
        vol.delete_file(V, "nope.txt")


def test_missing_volume_or_not_a_volume(vol):
    with pytest.raises(NotFoundError, match=r"volume 'main.shop.fils' does not exist. Did you mean 'main.shop.files'"):
        vol.put_file("main.shop.fils", "a.txt", b"x")
    with pytest.raises(NotFoundError, match=r"schema 'main.nope' does not exist"):
        vol.get_file("main.nope.files", "a.txt")
    vol.sql("CREATE TABLE main.shop.t (id BIGINT)")
    with pytest.raises(NotFoundError, match=r"'main.shop.t' is a table, not a volume"):
        vol.put_file("main.shop.t", "a.txt", b"x")


def test_describe_and_drop_a_volume(vol):
    vol.put_file(V, "a.txt", b"x")
    info = vol.describe(V)
    assert (info.kind, info.comment, info.owner) == ("volume", "plant pictures", "alice")
    vol.drop(V)
    with pytest.raises(NotFoundError):
        vol.get_file(V, "a.txt")
    vol.create_volume(V)
    assert paths(vol) == []  # a new volume of the same name starts empty
