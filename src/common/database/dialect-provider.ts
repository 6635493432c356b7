import { InjectionToken, Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Dialect, dialectOf } from './db-dialect';

/**
 * The provider of a strategy with one implementation per database: `make[dialect]` is called with the
 * data source and the providers of `inject`, in that order, for the configured database.
 */
export function dialectProvider<D extends unknown[]>(
  provide: InjectionToken,
  inject: InjectionToken[],
  make: Record<Dialect, (ds: DataSource, ...deps: D) => unknown>,
): Provider {
  return {
    provide,
    inject: [getDataSourceToken(), ...inject],
    useFactory: (ds: DataSource, ...deps: D) => make[dialectOf(ds)](ds, ...deps),
  };
}
