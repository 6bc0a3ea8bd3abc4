#!/usr/bin/env python3
"""Checks every link of the built book and of the README.

In the book's HTML (mdbook build book): every relative href and src must name a file the
build holds, and every #fragment an id on that page. In the Markdown the README and the
book's sources are (what a reader on a forge follows): every relative link must name a file
of the repository, and a fragment into a Markdown file a heading of it. External links are
not fetched: CI has no internet.

Usage: check-links.py BOOK_HTML_DIR MARKDOWN_FILE...
"""
import html.parser
import os
import re
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for attr in ("href", "src"):
            if attr in attrs and attrs[attr] is not None:
                self.links.append(attrs[attr])


def external(link):
    return re.match(r"^[a-z][a-z0-9+.-]*:", link) is not None


def check_html(root):
    pages = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(dirpath, name)
                page = Page()
                with open(path, encoding="utf-8") as f:
                    page.feed(f.read())
                pages[os.path.normpath(path)] = page
    problems = []
    for path, page in pages.items():
        for link in page.links:
            if external(link) or link.startswith("//"):
                continue
            target, _, fragment = link.partition("#")
            target = urllib.parse.unquote(target.split("?")[0])
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
            if target and not os.path.exists(resolved):
                problems.append(f"{path}: {link}: no such file")
                continue
            if fragment and resolved in pages and urllib.parse.unquote(fragment) not in pages[resolved].ids:
                problems.append(f"{path}: {link}: no such anchor")
    return problems, len(pages)


def slug(heading):
    # GitHub's and mdBook's anchors: lower case, punctuation dropped, spaces as hyphens.
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path):
    out = set()
    inside = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                inside = not inside
            elif not inside and re.match(r"^#+ ", line):
                out.add(slug(line.lstrip("#")))
    return out


def check_markdown(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if external(link):
            continue
        target, _, fragment = link.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
        if not os.path.exists(resolved):
            problems.append(f"{path}: {link}: no such file")
        elif fragment and resolved.endswith(".md") and fragment not in headings(resolved):
            problems.append(f"{path}: {link}: no such heading")
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems, pages = check_html(sys.argv[1])
    for path in sys.argv[2:]:
        problems += check_markdown(path)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{pages} pages and {len(sys.argv) - 2} Markdown files checked: {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
