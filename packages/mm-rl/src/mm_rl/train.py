"""``python -m mm_rl.train`` (e.g. ``torchrun --nproc-per-node K -m mm_rl.train ...``): the ``mm train`` command
on its own, with the same options. The training loop is :class:`mm_rl.trainer.Trainer`."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from mm_rl.cli import train_app

    train_app(argv)


if __name__ == "__main__":
    main()
