"""Run exactly one order-processing cycle of the real waldur-site-agent, then exit.

`waldur_site_agent -m order_process` loops forever; tests call its cycle function once instead.
Usage: python agent_cycle.py CONFIG.yaml SUMMARY.json HEARTBEAT_FILE
Writes {"errors": [...], "warnings": [...]} (the agent's own ERROR/WARNING log messages) to SUMMARY.json.
"""

import json
import logging
import sys

from waldur_site_agent.common import healthz, utils
from waldur_site_agent.polling_processing import agent_order_process


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: dict[str, list[str]] = {"errors": [], "warnings": []}

    def emit(self, record: logging.LogRecord) -> None:
        key = "errors" if record.levelno >= logging.ERROR else "warnings"
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
        self.records[key].append(text)


def main(config_path: str, summary_path: str, heartbeat_path: str) -> int:
    healthz.touch_heartbeat.__defaults__ = (heartbeat_path,)
    configuration = utils.init_configuration_from_file(config_path)
    configuration.waldur_site_agent_mode = "order_process"
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)  # after init: configuring the agent's logger clears handlers
    agent_order_process._process_offerings(configuration, {})
    with open(summary_path, "w") as summary:
        json.dump(recorder.records, summary)
    return 1 if recorder.records["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
