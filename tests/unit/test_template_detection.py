from bot.template_detection import detect_template


def test_the_first_marker_found_chooses_the_template() -> None:
    assert detect_template({"go.mod", "index.html"}.__contains__) == ("go", "go.mod")
    assert detect_template({"pyproject.toml"}.__contains__) == ("python", "pyproject.toml")
    assert detect_template({"pom.xml", "index.html"}.__contains__) == ("java", "pom.xml")
    assert detect_template({"README.md"}.__contains__) is None
