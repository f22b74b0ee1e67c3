// Secondhand's own script: small, no inline handlers (the CSP forbids them).
"use strict";
