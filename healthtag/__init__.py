"""healthtag: split Chinese health bulletins into articles, tag topics, write abstracts."""

__version__ = "0.1.0"
