"""Collecting submissions: what a student's folder, zip or Gradescope export can do to the
grader before any code runs (no grading here: fast)."""

from __future__ import annotations

import os
import stat
import threading
import zipfile

from minisegnet.course.collect import MAX_ENTRIES, collect_submission, escape_text, find_submissions

CM = "minisegnet/functional/conv_matrix.py"
CONV = "minisegnet/functional/conv.py"
ACCEPTED = [CM, CONV]
GOOD = b"def im2col(x):\n    return x\n"


def _write(root, files):
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def test_a_byte_order_mark_is_accepted_and_removed(tmp_path):
    _write(tmp_path, {CM: b"\xef\xbb\xbf" + GOOD, CONV: GOOD})
    found = collect_submission(tmp_path, ACCEPTED, ACCEPTED)
    assert found.overlay == {CM: GOOD, CONV: GOOD} and not found.stubbed


def test_any_compile_failure_is_that_files_failure_only(tmp_path):
    _write(tmp_path, {CM: GOOD, CONV: "x = " + "1 + " * 100000 + "1\n"})
    found = collect_submission(tmp_path, ACCEPTED, ACCEPTED)
    assert found.overlay == {CM: GOOD}
    assert found.stubbed[CONV].startswith("did not compile (")
    _write(tmp_path, {CONV: "def f(:\n    pass\n"})
    found = collect_submission(tmp_path, ACCEPTED, ACCEPTED)
    assert found.stubbed[CONV].startswith("did not compile (line 1: ")
    assert any(n.startswith(f"{CONV} did not compile (line 1") for n in found.notes)


def test_a_fifo_or_a_link_is_never_opened(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(GOOD)
    sub = tmp_path / "sub"
    _write(sub, {CONV: GOOD})
    (sub / CM).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, sub / CM)
    os.mkfifo(sub / "minisegnet" / "conv.py.fifo")
    os.mkfifo(sub / "conv_matrix.py")   # the same name elsewhere: ambiguous, never opened
    done = []
    thread = threading.Thread(target=lambda: done.append(collect_submission(sub, ACCEPTED, ACCEPTED)))
    thread.start()
    thread.join(10)
    assert done, "collection blocked on a FIFO"
    found = done[0]
    assert CM not in found.overlay and found.overlay[CONV] == GOOD


def test_depth_and_count_caps_stop_the_walk_and_say_so_once(tmp_path):
    _write(tmp_path, {CM: GOOD, CONV: GOOD})
    deep = tmp_path.joinpath(*["d"] * 60)
    deep.mkdir(parents=True)
    (deep / "conv.py").write_bytes(b"raise SystemExit\n")
    for k in range(MAX_ENTRIES + 500):
        (tmp_path / "zzz").mkdir(exist_ok=True)
        (tmp_path / "zzz" / f"f{k}.txt").write_text("x")
    found = collect_submission(tmp_path, ACCEPTED, ACCEPTED)
    assert found.overlay == {CM: GOOD, CONV: GOOD}
    assert sum("deeper than" in n for n in found.notes) == 1
    assert sum(f"more than {MAX_ENTRIES} entries" in n for n in found.notes) == 1


def test_names_reach_notes_escaped(tmp_path):
    _write(tmp_path, {CM: GOOD, "a\n- FAKE: 100 points\u2028x": "y"})
    found = collect_submission(tmp_path, ACCEPTED, ACCEPTED)
    assert all("\n" not in n and "\u2028" not in n for n in found.notes)
    assert any("a\\n- FAKE" in n for n in found.notes)
    assert escape_text("=1\t\x1b[31m") == "=1\\t\\x1b[31m"


def test_zip_members_are_read_in_memory_and_never_escape(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    with zipfile.ZipFile(subs / "alice.zip", "w") as archive:
        archive.writestr("alice/minisegnet/functional/conv_matrix.py", GOOD)
        archive.writestr("../../escape.py", "x")
        archive.writestr("/abs.py", "x")
        link = zipfile.ZipInfo("alice/conv.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("bomb.py", b"\0" * (3 << 20))
    found, skipped = find_submissions(subs)
    assert [s.name for s in found] == ["alice"] and not skipped
    result = collect_submission(found[0].source, ACCEPTED, ACCEPTED)
    assert result.overlay == {CM: GOOD}
    notes = " ".join(result.notes)
    assert "absolute path or '..'" in notes and "(a link)" in notes
    assert not (tmp_path / "escape.py").exists() and not os.path.exists("/abs.py")


def test_gradescope_export_unpacked_zipped_and_beside_other_submissions(tmp_path):
    meta = ("submission_11:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '11'\n"
            "    :email: ada@example.org\n  :score: 0.0\n")
    subs = tmp_path / "subs"
    _write(subs, {"bob/conv_matrix.py": GOOD, "README.md": "x",
                  "assignment_1_export/submission_metadata.yml": meta,
                  "assignment_1_export/submission_11/conv_matrix.py": GOOD})
    with zipfile.ZipFile(subs / "export.zip", "w") as archive:
        archive.writestr("assignment_2_export/submission_metadata.yml",
                         meta.replace("11", "21"))
        archive.writestr("assignment_2_export/submission_21/conv_matrix.py", GOOD)
    os.symlink(subs / "bob", subs / "alias")
    found, skipped = find_submissions(subs)
    assert sorted(s.name for s in found) == ["bob", "submission_11", "submission_21"]
    people = {s.name: s.submitters for s in found}
    assert people["submission_11"] == "Ada Lovelace <ada@example.org> (11)"
    assert people["submission_21"] == "Ada Lovelace <ada@example.org> (21)"
    assert dict(skipped) == {"README.md": "a loose file (a submission is a folder or a .zip file)",
                             "alias": "a link (not followed)"}
    for sub in found:
        assert collect_submission(sub.source, ACCEPTED).overlay == {CM: GOOD}
