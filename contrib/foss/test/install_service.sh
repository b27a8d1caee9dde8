#!/bin/bash
# An installer written the way the FOSS stack's component install scripts are: it sources the
# port manager from ../../scripts and registers its service's port. test_port_manager.sh copies
# it to components/service/ of a scratch stack tree, next to scripts/port_manager.sh.
# Usage: install_service.sh SERVICE_NAME PREFERRED_PORT

# Source the port manager
SCRIPT_DIR="$( cd "$( dirname "${BASH_SOURCE[0]}" )" &> /dev/null && pwd )"
source "$SCRIPT_DIR/../../scripts/port_manager.sh"

# Register a port (returns the assigned port)
SERVICE_PORT=$(register_port "$1" "$2" "flexible") || exit 1

# Use the assigned port in configurations
echo "Service will use port: $SERVICE_PORT"
