"""`python -m train` (no verb): arguments -> TrainConfig -> loop.run(cfg)."""
from __future__ import annotations

import json
import logging
import sys

from train import config

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse, resolve the preset, validate (ValueError naming the field), then train or print (--dry-run)."""
    args = vars(config.build_parser().parse_args(argv))
    dry_run = args.pop("dry_run")
    cfg = config.resolve(args)
    if dry_run:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    from train import loop
    try:
        run_dir = loop.run(cfg)
    except loop.Interrupted as e:
        log.info("%s", e)
        return 130
    log.info("run folder: %s", run_dir)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    sys.exit(main())
