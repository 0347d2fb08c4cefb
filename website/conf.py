"""Sphinx configuration of the course website (built by ``python website/build.py``).

The build stages the notebooks, README.md and lessons/README.md next to this file, executes every
notebook (MyST-NB) and renders them with their outputs and figures. MathJax is served from the
site itself (sphinx-mathjax-offline), so the pages need no network.
"""

import os

project = "npgpt"
author = "the npgpt authors"
copyright = "the npgpt authors (MIT licence)"
html_title = "npgpt: a GPT from scratch in NumPy"

extensions = ["myst_nb", "sphinx-mathjax-offline"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
# notebooks put $$ display math inside paragraphs (Jupyter renders it there); let MyST do the same
myst_dmath_double_inline = True
myst_heading_anchors = 3

# execute every notebook at every build; a cell that raises fails the build (NPGPT_SITE_EXECUTE=off
# renders the committed notebooks without running them, for a quick look at the layout)
nb_execution_mode = "off" if os.environ.get("NPGPT_SITE_EXECUTE") == "off" else "force"
# per cell; generous because a loaded machine runs a notebook several times slower than an idle one
nb_execution_timeout = int(os.environ.get("NPGPT_SITE_CELL_TIMEOUT", "1200"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": True,
}
# the theme reads its colour mode from here; left unset, its script logs a console error
html_context = {"default_mode": "light"}
exclude_patterns = ["_build", "build.py", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
