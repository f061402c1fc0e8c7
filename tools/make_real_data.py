#!/usr/bin/env python3
"""Small real-world classification sets from text a Debian system has, for
checking attnlab's generic defaults against a non-neural baseline
(docs/real-data.md). Writes <out>/<name>/{train,valid}.tsv (label<TAB>text).

    sudo apt-get install wamerican wngerman wfrench witalian wspanish
    python3 tools/make_real_data.py runs/real-data

Sets:
  words      the language of a dictionary word (5 word lists, words found
             in only one list), 12,000 balanced
  packages   the archive section of a Debian package from its one-line
             description (the 6 largest sections), 12,000 balanced
  manpages   the manual section (1, 2, 3, 5, 7, 8) of a manual page from its
             NAME line (`apropos .`; what is installed varies by machine)

Texts, for language models (<out>/<name>.txt):
  licences   the GNU licences in /usr/share/common-licenses (every Debian
             system has them), 169 KB
  changelogs the newest 20 KB of each installed package's Debian changelog,
             in order of package name, cut at a line near 2 MB (varies by
             machine)
"""
import collections
import gzip
import random
import subprocess
import sys
from pathlib import Path

SEED = 2026


def write(out, name, rows, valid_fraction=0.15):
    random.Random(SEED).shuffle(rows)
    n_valid = int(len(rows) * valid_fraction)
    d = Path(out) / name
    d.mkdir(parents=True, exist_ok=True)
    for split, part in (("valid", rows[:n_valid]), ("train", rows[n_valid:])):
        with open(d / f"{split}.tsv", "w", encoding="utf-8") as f:
            for label, text in part:
                f.write(f"{label}\t{text}\n")
    counts = collections.Counter(label for label, _ in rows)
    print(f"{name}: {len(rows) - n_valid} train, {n_valid} valid, labels {dict(sorted(counts.items()))}")


def balanced(by_label, per_label):
    rng = random.Random(SEED)
    rows = []
    for label in sorted(by_label):
        texts = sorted(set(by_label[label]))
        rng.shuffle(texts)
        rows += [(label, t) for t in texts[:per_label]]
    return rows


def clean(text):
    return " ".join(text.replace("\t", " ").split())


def words(out):
    lists = {"english": "american-english", "german": "ngerman", "french": "french",
             "italian": "italian", "spanish": "spanish"}
    seen = {}
    for lang, file in lists.items():
        for w in Path("/usr/share/dict", file).read_text(encoding="utf-8", errors="replace").split("\n"):
            w = w.strip()
            if w and "'" not in w:
                seen.setdefault(w, set()).add(lang)
    by_label = collections.defaultdict(list)
    for w, langs in seen.items():
        if len(langs) == 1:  # a word in two lists has no single answer
            by_label[next(iter(langs))].append(w)
    write(out, "words", balanced(by_label, 2400))


def packages(out):
    lists = sorted(Path("/var/lib/apt/lists").glob("*_dists_*_main_binary-*_Packages*"))
    lists = [p for p in lists if "security" not in p.name and "updates" not in p.name]
    if not lists:
        sys.exit("no apt Packages list in /var/lib/apt/lists (run apt-get update)")
    text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(lists[0])],
                          capture_output=True, text=True, check=True).stdout
    by_section = collections.defaultdict(list)
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.split("\n"):
            if ":" in line and not line.startswith(" "):
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if "Section" in fields and "Description" in fields:
            section = fields["Section"].split("/")[-1]
            by_section[section].append(clean(fields["Description"]))
    top = sorted(by_section, key=lambda s: -len(set(by_section[s])))[:6]
    write(out, "packages", balanced({s: by_section[s] for s in top}, 2000))


def manpages(out):
    text = subprocess.run(["apropos", "."], capture_output=True, text=True).stdout
    by_section = collections.defaultdict(list)
    for line in text.split("\n"):
        if " - " not in line or "(" not in line:
            continue
        head, desc = line.split(" - ", 1)
        section = head[head.index("(") + 1:head.index(")")][:1]
        if section in "123578":
            by_section[section].append(clean(desc))
    rows = balanced(by_section, 2000)
    write(out, "manpages", rows)


def texts(out):
    licences = Path("/usr/share/common-licenses")
    names = ["GPL-1", "GPL-2", "GPL-3", "LGPL-2", "LGPL-2.1", "LGPL-3", "GFDL-1.2", "GFDL-1.3"]
    Path(out).mkdir(parents=True, exist_ok=True)
    text = "".join((licences / n).read_text(encoding="utf-8") for n in names)
    Path(out, "licences.txt").write_text(text, encoding="utf-8")
    print(f"licences.txt: {len(text.encode())} bytes")
    limit, per_package, parts, size = 2_000_000, 20_000, [], 0
    for path in sorted(Path("/usr/share/doc").glob("*/changelog.Debian.gz")):
        taken = 0
        for line in gzip.open(path, "rt", encoding="utf-8", errors="replace"):
            n = len(line.encode())
            if size + n > limit or taken + n > per_package:
                break
            parts.append(line)
            size += n
            taken += n
        if size >= limit - 1000:
            break
    Path(out, "changelogs.txt").write_text("".join(parts), encoding="utf-8")
    print(f"changelogs.txt: {size} bytes, {len(parts)} lines")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/real-data"
    words(out)
    packages(out)
    manpages(out)
    texts(out)
