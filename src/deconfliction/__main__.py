"""`python -m deconfliction`: the same command line as `deconfliction`."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
