import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    files: {
      src: 'app',
      lib: 'app/lib',
      routes: 'app/routes',
      appTemplate: 'app/app.html',
      serviceWorker: 'app/service-worker',
      assets: 'static',
    },
    alias: { $shared: 'shared' },
    serviceWorker: { register: false },
    typescript: {
      config(tsconfig) {
        tsconfig.include.push('../shared/**/*.ts', '../server/**/*.ts', '../test/**/*.ts', '../bench/**/*.ts');
        return tsconfig;
      },
    },
  },
};

export default config;
