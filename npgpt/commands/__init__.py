"""The ``npgpt`` command-line programs, one module each, named for the subcommand it defines.

Each module has ``add_parser(subparsers)`` (its flags) and ``main(args)`` (its exit code).
"""
