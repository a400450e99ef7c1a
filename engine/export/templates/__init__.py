"""Text templates of the generated code (Python modules, so they install with the package).

They use `string.Template` placeholders (`$name`), so the generated code keeps its braces.
"""
