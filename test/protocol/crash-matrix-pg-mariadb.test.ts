// The crash matrix over PG+MariaDB: a coordinator killed at every step of every commit variant, then
// recovered (harness/crash-matrix.ts). One file per topology, so that each file's time stays in
// proportion to its tests (harness/test-plan.ts).
import { crashMatrix } from '../../harness/crash-matrix.js'

crashMatrix('crash-matrix-pg-mariadb.test.js')
