"""`smartchain init-network`'s files and DATADIR/config.json as `run`'s defaults (no processes: the parsers and the
files themselves); the processes are in test_p2p_cli_network.py."""
from __future__ import annotations

import json

import pytest
from eth_keys import keys

from node.chain.genesis import load_genesis
from node.cli.datadirconfig import ConfigFileError
from node.cli.initnet import InitNetworkError, init_network
from node.cli.main import _parser, main, parse_args, run_config
from node.dev.accounts import dev_accounts, load_key
from node.dev.devnet import validator_key
from node.network.rlpx.nodekey import enode_url, load_or_create_nodekey, parse_enode


def test_init_network_writes_complete_data_dirs(tmp_path, capsys):
    assert main(["init-network", "--validators", "3", "--dir", str(tmp_path), "--http.port", "9100",
                 "--p2p.port", "31100"]) == 0
    assert "node2:" in capsys.readouterr().out
    dirs = [tmp_path / f"node{i}" for i in range(3)]
    genesis = [(d / "genesis.json").read_text() for d in dirs]
    assert genesis[0] == genesis[1] == genesis[2]
    chain = load_genesis(dirs[0] / "genesis.json")
    validators = sorted(validator_key(i).public_key.to_canonical_address() for i in range(3))
    assert list(chain.genesis_validators) == validators
    alloc = {k.lower().removeprefix("0x") for k in json.loads(genesis[0])["alloc"]}
    assert all(acct.address.hex() in alloc for acct in dev_accounts())
    enodes = [enode_url(load_or_create_nodekey(d), "127.0.0.1", 31100 + i) for i, d in enumerate(dirs)]
    assert len({parse_enode(url).node_id for url in enodes}) == 3   # a node key of its own each
    for i, d in enumerate(dirs):
        assert keys.PrivateKey(load_key(str(d / "validator.key"))) == validator_key(i)
        assert (d / "chaindata").is_dir()   # the genesis block is written
        config = json.loads((d / "config.json").read_text())
        assert config == {"http.port": 9100 + i, "p2p.port": 31100 + i, "p2p.addr": "127.0.0.1",
                          "peers": [url for j, url in enumerate(enodes) if j != i]}


def test_run_takes_its_defaults_from_the_data_dirs_config(tmp_path):
    init_network(tmp_path, 2, 9200, 31200)
    datadir = tmp_path / "node1"
    config = run_config(parse_args(_parser(), ["run", "--datadir", str(datadir)]))
    assert (config.http_port, config.p2p_port, config.p2p_addr) == (9201, 31201, "127.0.0.1")
    assert config.p2p and not config.dev   # the validator key makes it a validator, with peers
    assert config.peers == (enode_url(load_or_create_nodekey(tmp_path / "node0"), "127.0.0.1", 31200),)
    assert config.validator_key is None and config.genesis == datadir / "genesis.json"
    flags = run_config(parse_args(_parser(), ["--datadir", str(datadir), "--http.port", "9300", "--no-p2p",
                                              "--peers", "", "--maxpeers", "7", "--nodiscover"]))
    assert (flags.http_port, flags.p2p, flags.peers, flags.max_peers) == (9300, False, (), 7)


def test_dev_mode_runs_without_peers_unless_given_some(tmp_path):
    dev = run_config(parse_args(_parser(), ["run", "--datadir", str(tmp_path)]))
    assert dev.dev and not dev.p2p
    url = enode_url(b"\x01" * 32, "127.0.0.1", 30311)
    assert run_config(parse_args(_parser(), ["run", "--datadir", str(tmp_path), "--peers", url])).p2p
    assert run_config(parse_args(_parser(), ["run", "--datadir", str(tmp_path), "--p2p"])).p2p


def test_a_bad_config_file_or_init_network_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"http.prot": 1}')
    with pytest.raises(ConfigFileError, match="unknown flag 'http.prot'"):
        parse_args(_parser(), ["run", "--datadir", str(tmp_path)])
    (tmp_path / "config.json").write_text("[1]")
    assert main(["run", "--datadir", str(tmp_path)]) == 1
    assert "want a JSON object" in capsys.readouterr().err
    with pytest.raises(InitNetworkError, match="at least 1"):
        init_network(tmp_path / "x", 0, 9000, 31000)
    init_network(tmp_path / "y", 1, 9000, 31000)
    with pytest.raises(InitNetworkError, match="is not empty"):
        init_network(tmp_path / "y", 1, 9000, 31000)


@pytest.mark.parametrize("argv", [["init-network", "--help"], ["run", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert ("--validators" in out) if argv[0] == "init-network" else ("--p2p.port" in out and "--peers" in out)


def test_a_taken_p2p_port_fails_the_run_before_anything_starts(tmp_path, capsys):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["run", "--datadir", str(tmp_path / "n"), "--p2p", "--p2p.port", str(port), "--http.port", "0",
                     "--no-rpc.front"]) == 1
    assert f"--p2p.port: 127.0.0.1:{port} is not available" in capsys.readouterr().err
    assert not (tmp_path / "n" / "chaindata").exists()   # nothing started
