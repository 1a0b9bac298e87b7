"""Reading what modelrail wrote to the runner's files, the way actions/runner reads them."""


def parse_file_command(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT/GITHUB_ENV file the way actions/runner does.

    `name=value` lines, or `name<<DELIMITER` followed by the value's lines up to a line that
    is exactly DELIMITER; `=` before `<<` means the single-line form. An unterminated
    heredoc is an error (the runner fails the step).
    """
    values: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            values[line[:equals]] = line[equals + 1 :]
            continue
        if heredoc <= 0:
            raise ValueError(f"invalid line {line!r}")
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        body: list[str] = []
        for value_line in lines:
            if value_line == delimiter:
                break
            body.append(value_line)
        else:
            raise ValueError(f"matching delimiter {delimiter!r} not found")
        values[name] = "\n".join(body)
    return values
