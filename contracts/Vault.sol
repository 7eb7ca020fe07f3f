// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Vault
/// @notice Deposits per account, for the pytest plugin's sample project: it fails in each of Solidity's three
/// ways (a require string, a custom error, a panic) so tests can check that `reverts` tells them apart.
contract Vault {
    mapping(address => uint256) public deposits;
    uint256 public total;

    /// Sent when an account withdraws more than it deposited.
    error Insufficient(address account, uint256 available, uint256 requested);

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    function deposit() external payable {
        require(msg.value > 0, "Vault: nothing to deposit");
        deposits[msg.sender] += msg.value;
        total += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    function withdraw(uint256 amount) external {
        uint256 available = deposits[msg.sender];
        if (amount > available) {
            revert Insufficient(msg.sender, available, amount);
        }
        deposits[msg.sender] = available - amount;
        total -= amount;
        emit Withdrawn(msg.sender, amount);
        payable(msg.sender).transfer(amount);
    }

    /// The caller's deposit split in `parts` equal shares: panics (0x12) when `parts` is 0.
    function share(uint256 parts) external view returns (uint256) {
        return deposits[msg.sender] / parts;
    }
}
