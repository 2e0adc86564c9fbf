# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
