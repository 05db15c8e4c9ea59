//! Administrative commands: assets, symbols, status, deposits and withdrawals.

use super::{Engine, Market};
use crate::book::Book;
use crate::config::{
    quote_per_tick_lot, valid_name, AssetConfig, ConfigError, SymbolConfig, SymbolStatus,
    MAX_ASSET_SCALE, MAX_ASSET_SUPPLY,
};
use crate::event::{Event, EventKind, RejectReason, RequestKind};
use crate::ids::{AccountId, AssetId, SymbolId, TxId};

impl From<ConfigError> for RejectReason {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::InvalidName => RejectReason::InvalidName,
            ConfigError::InvalidScale => RejectReason::InvalidScale,
            ConfigError::InvalidTickOrLot => RejectReason::InvalidTickOrLot,
            ConfigError::InexactTickLot => RejectReason::InexactTickLot,
            ConfigError::InvalidQtyBounds => RejectReason::InvalidQuantityBounds,
            ConfigError::InvalidFee => RejectReason::InvalidFeeRate,
            ConfigError::UnknownAsset => RejectReason::UnknownAsset,
            ConfigError::SameBaseAndQuote => RejectReason::SameBaseAndQuote,
            ConfigError::ImmutableChanged => RejectReason::ImmutableFieldChanged,
        }
    }
}

impl<B: Book> Engine<B> {
    fn reject_admin(
        &mut self,
        request: RequestKind,
        symbol: Option<SymbolId>,
        reason: RejectReason,
        out: &mut Vec<Event>,
    ) {
        self.st.emit(
            out,
            EventKind::Rejected {
                request,
                account: None,
                symbol,
                client_order_id: None,
                reason,
            },
        );
    }

    pub(super) fn upsert_asset(&mut self, c: &AssetConfig, out: &mut Vec<Event>) {
        let check = || -> Result<(), ConfigError> {
            if !valid_name(&c.code) {
                return Err(ConfigError::InvalidName);
            }
            if c.scale > MAX_ASSET_SCALE {
                return Err(ConfigError::InvalidScale);
            }
            if let Some(old) = self.assets.get(&c.id) {
                if old.scale != c.scale {
                    return Err(ConfigError::ImmutableChanged);
                }
            }
            Ok(())
        };
        match check() {
            Ok(()) => {
                self.assets.insert(c.id, c.clone());
                self.st
                    .emit(out, EventKind::AssetUpserted(Box::new(c.clone())));
            }
            Err(e) => self.reject_admin(RequestKind::UpsertAsset, None, e.into(), out),
        }
    }

    pub(super) fn upsert_symbol(&mut self, c: &SymbolConfig, out: &mut Vec<Event>) {
        let check = || -> Result<u128, ConfigError> {
            c.check_static()?;
            let base = self.assets.get(&c.base).ok_or(ConfigError::UnknownAsset)?;
            if !self.assets.contains_key(&c.quote) {
                return Err(ConfigError::UnknownAsset);
            }
            if let Some(old) = self.markets.get(&c.id) {
                let o = &old.config;
                if o.base != c.base
                    || o.quote != c.quote
                    || o.tick_size != c.tick_size
                    || o.lot_size != c.lot_size
                {
                    return Err(ConfigError::ImmutableChanged);
                }
            }
            quote_per_tick_lot(c.tick_size, c.lot_size, base.scale)
        };
        match check() {
            Ok(unit) => {
                match self.markets.get_mut(&c.id) {
                    Some(m) => m.config = c.clone(),
                    None => {
                        let market = Market {
                            config: c.clone(),
                            status: SymbolStatus::Trading,
                            unit,
                            base_slot: self.st.asset_slot_or_insert(c.base),
                            quote_slot: self.st.asset_slot_or_insert(c.quote),
                            book: B::default(),
                        };
                        self.markets.insert(c.id, market);
                    }
                }
                self.st
                    .emit(out, EventKind::SymbolUpserted(Box::new(c.clone())));
            }
            Err(e) => self.reject_admin(RequestKind::UpsertSymbol, Some(c.id), e.into(), out),
        }
    }

    pub(super) fn set_status(
        &mut self,
        symbol: SymbolId,
        status: SymbolStatus,
        out: &mut Vec<Event>,
    ) {
        let request = match status {
            SymbolStatus::Halted => RequestKind::HaltSymbol,
            SymbolStatus::Trading => RequestKind::ResumeSymbol,
        };
        let Some(m) = self.markets.get_mut(&symbol) else {
            return self.reject_admin(request, Some(symbol), RejectReason::UnknownSymbol, out);
        };
        if m.status == status {
            return self.reject_admin(request, Some(symbol), RejectReason::AlreadyInState, out);
        }
        m.status = status;
        self.st
            .emit(out, EventKind::SymbolStatusChanged { symbol, status });
    }

    pub(super) fn deposit(
        &mut self,
        account: AccountId,
        asset: AssetId,
        amount: u128,
        tx_id: TxId,
        out: &mut Vec<Event>,
    ) {
        if self.st.deposit_ids.contains(&tx_id) {
            let kind = EventKind::DepositDuplicate {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
            };
            return self.st.emit(out, kind);
        }
        let held = self
            .st
            .supply
            .get(&asset)
            .map_or(0, |s| s.deposited - s.withdrawn);
        let reason = if !self.assets.contains_key(&asset) {
            Some(RejectReason::UnknownAsset)
        } else if amount == 0 {
            Some(RejectReason::ZeroAmount)
        } else if amount > MAX_ASSET_SUPPLY - held {
            Some(RejectReason::SupplyLimitExceeded)
        } else {
            None
        };
        if let Some(reason) = reason {
            let kind = EventKind::DepositRejected {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
                reason,
            };
            return self.st.emit(out, kind);
        }
        self.st.deposit_ids.insert(tx_id);
        self.st.supply.entry(asset).or_default().deposited += amount;
        let (acct, asset_slot) = (
            self.st.account_slot_or_insert(account),
            self.st.asset_slot_or_insert(asset),
        );
        self.st.credit(acct, asset_slot, amount);
        self.st.emit(
            out,
            EventKind::Deposited {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
            },
        );
    }

    pub(super) fn withdraw(
        &mut self,
        account: AccountId,
        asset: AssetId,
        amount: u128,
        tx_id: TxId,
        out: &mut Vec<Event>,
    ) {
        if self.st.withdrawal_ids.contains(&tx_id) {
            let kind = EventKind::WithdrawalDuplicate {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
            };
            return self.st.emit(out, kind);
        }
        let reason = if !self.assets.contains_key(&asset) {
            Some(RejectReason::UnknownAsset)
        } else if amount == 0 {
            Some(RejectReason::ZeroAmount)
        } else if self.st.balance(account, asset).available < amount {
            Some(RejectReason::InsufficientBalance)
        } else {
            None
        };
        if let Some(reason) = reason {
            let kind = EventKind::WithdrawalRejected {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
                reason,
            };
            return self.st.emit(out, kind);
        }
        self.st.withdrawal_ids.insert(tx_id);
        self.st.supply.entry(asset).or_default().withdrawn += amount;
        let (acct, asset_slot) = (
            self.st.account_slot_or_insert(account),
            self.st.asset_slot_or_insert(asset),
        );
        self.st.debit_available(acct, asset_slot, amount);
        self.st.emit(
            out,
            EventKind::Withdrawn {
                account,
                asset,
                amount,
                tx_id: Box::new(tx_id),
            },
        );
    }
}
