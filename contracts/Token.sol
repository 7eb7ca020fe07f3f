// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Token
/// @notice A small, standard ERC-20 used by the wallet and RPC tests. It
/// reverts in both styles (custom error and reason string) and has a
/// gasleft()-dependent function for testing eth_estimateGas.
contract Token {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    /// Sent when the sender's balance is below the amount moved.
    error InsufficientBalance(address account, uint256 available, uint256 required);

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// Scratch storage written by burnGas, so its work is not optimised away.
    uint256 public burned;

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        totalSupply = initialSupply;
        balanceOf[msg.sender] = initialSupply;
        emit Transfer(address(0), msg.sender, initialSupply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "ERC20: insufficient allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    /// Does `n` rounds of storage work, then insists on more than 50000 gas
    /// being left. Gas used by a successful run is far below the gas limit it
    /// needs, so an estimate taken from gas used alone is too low and reverts
    /// with "need gas"; eth_estimateGas has to search for the limit.
    function burnGas(uint256 n) external {
        uint256 acc = burned;
        for (uint256 i = 0; i < n; i++) {
            acc = uint256(keccak256(abi.encode(acc, i)));
        }
        burned = acc;
        require(gasleft() > 50000, "need gas");
    }

    function _transfer(address from, address to, uint256 value) internal {
        require(to != address(0), "ERC20: transfer to the zero address");
        uint256 available = balanceOf[from];
        if (available < value) {
            revert InsufficientBalance(from, available, value);
        }
        unchecked {
            balanceOf[from] = available - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
