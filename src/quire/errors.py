"""Exceptions that carry one clear line for the user."""

from pathlib import Path


class QuireError(Exception):
    """An error whose message is meant for the user as it is."""


class InputError(QuireError):
    """One input file is unusable; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # to cross process boundaries
        return type(self), (self.path, self.problem)


class ConfigError(QuireError):
    """A configuration file or option is invalid; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
