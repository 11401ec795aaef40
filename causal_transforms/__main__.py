"""``python -m causal_transforms`` runs the command-line interface."""

from causal_transforms.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
