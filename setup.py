from setuptools import find_packages, setup

setup(
    name="nba_pipeline",
    version="0.1.0",
    description="NBA player-props data platform as daily-partitioned Dagster assets",
    packages=find_packages(exclude=["nba_pipeline_tests"]),
    package_data={"nba_pipeline": ["config/*.yaml", "sources/*.yaml", "data/*.md", "data/season_2023_24/*", "data/season_2022_23/*"]},
    python_requires=">=3.11,<3.14",
    install_requires=[
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-graphql==1.13.27",
        "dagster-duckdb==0.29.27",
        "dagster-duckdb-pandas==0.29.27",
        "duckdb>=1.1,<3",
        "pandas>=2.2,<3",
        "numpy>=1.26,<3",
        "pyarrow>=15",
        "pydantic>=2.7,<3",
        "psutil>=5.9,<8",  # is a run's process alive (nba_pipeline.run_host)
        "pyyaml>=6",
        "beautifulsoup4>=4.12,<5",  # the referee assignments page (nba_pipeline/sources/referees.py), with the stdlib html.parser
        # soupsieve (beautifulsoup4's) 3.x needs Python >= 3.11.5 (3.0-3.0.1 were yanked for it); Debian bookworm, the image's base, has 3.11.2
        "soupsieve>=2,<3",
        "requests>=2.31",
        # the league's injury report PDFs (sources/injury_report.py): words with their positions, no Java (not tabula)
        "pdfplumber>=0.11,<0.12",
        "scikit-learn>=1.4,<2",
        "scipy>=1.11",
        "sqlalchemy>=2",  # nba_pipeline/plumbing/instance_storage.py (the tuned event log) is written against SQLAlchemy 2
    ],
    extras_require={
        # deploy/production/dagster.yaml: Dagster's instance in PostgreSQL (postgresql+psycopg2:// URLs); BigQuery
        # warehouse and models in GCS (NBA_PIPELINE_ENV=production; nothing local imports them)
        # (table reads through BigQuery's Storage Read API: google-cloud-bigquery-storage)
        "production": ["dagster-postgres==0.29.27", "psycopg2-binary>=2.9,<3", "dagster-gcp==0.29.27",
                       "dagster-gcp-pandas==0.29.27", "google-cloud-bigquery>=3.20,<4", "google-cloud-bigquery-storage>=2.24,<3"],
        # the tests run the production instance against a real PostgreSQL server too, and drive the web UI in the
        # system's headless chromium through selenium (/usr/bin/chromedriver; no browser download)
        # and the BigQuery warehouse against a local emulator server (bqemulator: DuckDB + SQLGlot, from PyPI)
        # pytest-xdist: `make test` runs the suite on both cores, one test file per worker at a time
        "dev": ["pytest>=8", "pytest-xdist>=3.6,<4", "dagster-postgres==0.29.27", "psycopg2-binary>=2.9,<3", "selenium>=4.20,<5",
                "dagster-gcp==0.29.27", "google-cloud-bigquery>=3.20,<4", "google-cloud-bigquery-storage>=2.24,<3", "bqemulator==1.4.0",
                # and production's model store against a local GCS server
                "gcp-storage-emulator>=2024",
                # the dg CLI: `make dev` is `dg dev`; `dg check defs`, `dg list defs`
                "dagster-dg-cli==1.13.27"],
    },
    entry_points={"console_scripts": ["nba-pipeline=nba_pipeline.cli:main"]},
)
