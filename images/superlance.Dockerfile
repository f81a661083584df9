# The image of the docker layer's superlance tests: initsup's single-file build, the test
# programs, and the supervisor and superlance packages from PyPI (pure Python, copied from
# the test environment into site/), on a base with procps (memmon reads memory with ps).
ARG BASE=initsup-base:bookworm-procps
FROM ${BASE}

COPY dist/initsup.pyz /usr/local/bin/initsup
COPY tests/bin/ /opt/initsup-tests/bin/
COPY site/ /opt/superlance/
ENV PYTHONPATH=/opt/superlance

ENTRYPOINT ["initsup"]
