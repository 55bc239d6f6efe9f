#!/bin/sh
printf "%s|%s|%s\n" "$1" "$2" "$3" >> /tmp/dt/received.log
