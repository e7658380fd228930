# OpenBao in the scenario-3 stack (docker-compose.phase2.yml): raft storage
# on the named volume mounted at /openbao/data, plain HTTP inside the
# container (the host reaches it only through a port published on
# 127.0.0.1). Baked into the image toolboxai/openbao by
# lab/stack/openbao-image.sh.
storage "raft" {
  path    = "/openbao/data"
  node_id = "vault"
  performance_multiplier = 1
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_disable     = true
}

api_addr      = "http://127.0.0.1:8200"
cluster_addr  = "http://127.0.0.1:8201"
disable_mlock = true
ui            = false
